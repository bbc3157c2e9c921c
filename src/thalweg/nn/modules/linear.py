"""``torch.nn.modules.linear``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("Identity", "Linear", "Bilinear", "LazyLinear", "NonDynamicallyQuantizableLinear"),
        ("thalweg.nn.linear", "thalweg.nn.basic", "thalweg.nn.activation_extra"))
