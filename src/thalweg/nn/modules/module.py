"""``torch.nn.modules.module``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("Module",),
        ("thalweg.nn.module",))
