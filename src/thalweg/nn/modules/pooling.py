"""``torch.nn.modules.pooling``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
         "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
         "LPPool1d", "LPPool2d", "MaxUnpool1d", "MaxUnpool2d"),
        ("thalweg.nn.pooling",))
