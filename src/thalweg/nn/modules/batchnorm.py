"""``torch.nn.modules.batchnorm``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "_BatchNorm", "_NormBase", "LazyBatchNorm1d",
         "LazyBatchNorm2d"),
        ("thalweg.nn.normalization", "thalweg.nn.sync_batchnorm"))
