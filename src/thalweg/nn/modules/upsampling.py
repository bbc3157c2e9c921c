"""``torch.nn.modules.upsampling``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"))
