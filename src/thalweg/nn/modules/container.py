"""``torch.nn.modules.container``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "Container"),
        ("thalweg.nn.container",))
