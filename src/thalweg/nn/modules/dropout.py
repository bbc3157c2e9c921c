"""``torch.nn.modules.dropout``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"),
        ("thalweg.nn.dropout",))
