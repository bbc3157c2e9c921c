"""``torch.nn.modules.distance``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("PairwiseDistance", "CosineSimilarity"),
        ("thalweg.nn.loss", "thalweg.nn.activation_extra"))
