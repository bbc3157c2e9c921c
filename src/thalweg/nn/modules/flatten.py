"""``torch.nn.modules.flatten``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("Flatten", "Unflatten"),
        ("thalweg.nn.basic",))
