"""``thalweg.data``: datasets and the minibatch loader.

* ``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``, ``random_split``
* ``DataLoader``: sampling without replacement, a fresh permutation each epoch,
  vectorised batching, a saveable state for exact resumption
* ``load_mnist`` / ``load_fashion_mnist`` / ``MNIST`` / ``FashionMNIST``: the
  official IDX files, verified by checksum, with the 50k/10k/10k split
* ``load_digits`` / ``digits_splits``: the UCI 8x8 digits embedded in the package
* ``make_spirals``, ``make_moons``, ``make_regression``: synthetic sets
"""

from .dataset import ConcatDataset, Dataset, Splits, Subset, TensorDataset, random_split
from .digits import DIGITS_ATTRIBUTION, digits_splits, load_digits
from .download import CHECKSUMS, ENV_VAR, MIRRORS, data_root, ensure_file
from .errors import DataError
from .idx import encode_idx, parse_idx, read_idx
from .loader import DataLoader, default_collate
from .mnist import FashionMNIST, MNIST, load_fashion_mnist, load_idx_dataset, load_mnist
from .synthetic import make_moons, make_regression, make_spirals, synthetic_splits

__all__ = ["CHECKSUMS", "ConcatDataset", "DIGITS_ATTRIBUTION", "DataError", "DataLoader", "Dataset", "ENV_VAR",
           "FashionMNIST", "MIRRORS", "MNIST", "Splits", "Subset", "TensorDataset", "data_root", "default_collate",
           "digits_splits", "encode_idx", "ensure_file", "load_digits", "load_fashion_mnist", "load_idx_dataset",
           "load_mnist", "make_moons", "make_regression", "make_spirals", "parse_idx", "random_split", "read_idx",
           "synthetic_splits"]

# text and session utilities (``thalweg.data.text``, ``thalweg.data.sessions``)
from .sessions import (Interactions, ItemIndex, SessionBatch, Sessions, build_sessions, load_interactions,  # noqa: E402
                       session_parallel_batches, split_by_time)
from .text import (PAD, UNK, BucketBatchSampler, LabelledText, Vocabulary, lengths_to_mask,  # noqa: E402
                   load_pretrained_embedding, load_sentence_polarity, pad_sequences, read_vectors, text_batches,
                   tokenize, vectors_for_vocabulary)

__all__ += ["BucketBatchSampler", "Interactions", "ItemIndex", "LabelledText", "PAD", "SessionBatch", "Sessions",
            "UNK", "Vocabulary", "build_sessions", "lengths_to_mask", "load_interactions", "load_pretrained_embedding",
            "load_sentence_polarity", "pad_sequences", "read_vectors", "session_parallel_batches", "split_by_time",
            "text_batches", "tokenize", "vectors_for_vocabulary"]
