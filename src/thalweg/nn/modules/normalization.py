"""``torch.nn.modules.normalization``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("LayerNorm", "GroupNorm", "LocalResponseNorm", "RMSNorm", "CrossMapLRN2d"),
        ("thalweg.nn.normalization",))
