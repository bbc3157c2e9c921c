"""``torch.nn.modules.transformer``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
         "TransformerDecoderLayer"),
        ("thalweg.nn.transformer",))
