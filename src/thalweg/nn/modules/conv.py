"""``torch.nn.modules.conv``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"),
        ("thalweg.nn.conv",))
