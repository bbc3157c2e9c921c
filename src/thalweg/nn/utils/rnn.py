"""``thalweg.nn.utils.rnn``: torch's home of the variable-length helpers (defined in ``nn/recurrent.py``)."""

from ..recurrent import PackedSequence, pack_padded_sequence, pad_packed_sequence, pad_sequence

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence"]
