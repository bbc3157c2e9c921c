"""``torch.nn.modules.pixelshuffle``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("PixelShuffle", "PixelUnshuffle"))
