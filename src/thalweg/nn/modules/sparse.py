"""``torch.nn.modules.sparse``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("Embedding", "EmbeddingBag"),
        ("thalweg.nn.sparse",))
