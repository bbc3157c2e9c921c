"""``thalweg.data``: datasets and the minibatch loader.

* ``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``, ``random_split``
* ``DataLoader`` (torch's arguments; ``shuffle=True``: a fresh permutation each epoch),
  the samplers (``RandomSampler``, ``BatchSampler``, ...),
  vectorised batching, a saveable state for exact resumption
* ``load_mnist`` / ``load_fashion_mnist`` / ``MNIST`` / ``FashionMNIST``: the
  official IDX files, verified by checksum, with the 50k/10k/10k split
* ``load_digits`` / ``digits_splits``: the UCI 8x8 digits embedded in the package
* ``make_spirals``, ``make_moons``, ``make_regression``: synthetic sets
"""

from .dataset import ConcatDataset, Dataset, IterableDataset, Splits, Subset, TensorDataset, random_split
from .errors import DataError
from .loader import DataLoader, default_collate, default_convert, get_worker_info
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                      WeightedRandomSampler)

__all__ = ["CHECKSUMS", "ConcatDataset", "DIGITS_ATTRIBUTION", "DataError", "DataLoader", "Dataset", "ENV_VAR",
           "FashionMNIST", "MIRRORS", "MNIST", "Splits", "Subset", "TensorDataset", "data_root", "default_collate",
           "digits_splits", "encode_idx", "ensure_file", "load_digits", "load_fashion_mnist", "load_idx_dataset",
           "load_mnist", "make_moons", "make_regression", "make_spirals", "parse_idx", "random_split", "read_idx",
           "synthetic_splits"]
__all__ += ["BatchSampler", "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "SubsetRandomSampler",
            "WeightedRandomSampler", "default_convert", "get_worker_info"]

__all__ += ["DistributedSampler"]

__all__ += ["BucketBatchSampler", "LabelledText", "PAD", "UNK", "Vocabulary", "lengths_to_mask",
            "load_pretrained_embedding", "load_sentence_polarity", "pad_sequences", "read_vectors", "text_batches",
            "tokenize", "vectors_for_vocabulary"]

# Beyond the basics (datasets, samplers, the loader), imported on first use (PEP 562): the embedded digits,
# MNIST and its download, IDX files, synthetic sets, the distributed sampler, and the text utilities
# (``thalweg.data.text``; session data for GRU4Rec lives in ``thalweg_lab.sessions``).
from .._lazy import lazy_names  # noqa: E402

_LATER = {".digits": ("DIGITS_ATTRIBUTION", "digits_splits", "load_digits"),
          ".download": ("CHECKSUMS", "ENV_VAR", "MIRRORS", "data_root", "ensure_file"),
          ".idx": ("encode_idx", "parse_idx", "read_idx"),
          ".mnist": ("FashionMNIST", "MNIST", "load_fashion_mnist", "load_idx_dataset", "load_mnist"),
          ".synthetic": ("make_moons", "make_regression", "make_spirals", "synthetic_splits"),
          ".distributed": ("DistributedSampler",),
          ".text": ("PAD", "UNK", "BucketBatchSampler", "LabelledText", "Vocabulary", "lengths_to_mask",
                    "load_pretrained_embedding", "load_sentence_polarity", "pad_sequences", "read_vectors",
                    "text_batches", "tokenize", "vectors_for_vocabulary")}
__getattr__, __dir__ = lazy_names(__name__, {name: module for module, names in _LATER.items() for name in names})
