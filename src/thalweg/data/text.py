"""Text utilities: a vocabulary, padding with lengths and masks, length buckets, pretrained word vectors.

A recurrent text model reads integer token ids.  The way from a sentence to a
batch is always the same, and each step is one function here:

1. ``tokenize(line)``: the text is *already tokenized* (words and punctuation
   separated by spaces, as in the sentence-polarity, SST and SNLI files), so a
   token is a whitespace-separated field; nothing is guessed.
2. ``Vocabulary.build(sentences, min_count=2)``: token -> id, with the padding
   token at id 0 and the unknown token at id 1, then the kept tokens by
   decreasing count (ties: first seen first).  Tokens rarer than ``min_count``
   map to the unknown id, so the model learns one vector for "a rare word".
3. ``pad_sequences(ids)``: a list of 1-D id arrays -> a ``(batch, max_len)``
   array filled with the padding id, and the ``lengths``; ``lengths_to_mask``
   turns lengths into the boolean mask ``mask[b, t] = t < lengths[b]``.
   The recurrent layers take ``lengths=`` directly; attention and pooling take
   the mask.
4. ``BucketBatchSampler``: batches of *similar* lengths, so a batch is not
   padded to the length of one long outlier.  Each epoch the examples are
   shuffled, cut into pools of ``pool_batches`` batches, each pool is sorted by
   length and cut into batches, and the batches are shuffled: the order stays
   random while padding shrinks (the "bucket iterator" of torchtext and
   AllenNLP).
5. ``load_pretrained_embedding(path, vocab)``: word vectors from a text file
   (GloVe / word2vec text format: ``word v1 ... vD`` per line, an optional
   ``N D`` header line) or a ``.npy`` matrix with its word list, copied into an
   ``nn.Embedding`` whose rows follow the vocabulary.  Words missing from the
   file get random vectors with the file's own scale; the padding row is zero.

``load_sentence_polarity(path)`` reads the sentence-polarity CSV described in
the shared data README (``"label","text"``, labels ``1`` / ``-1``).
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .. import random as _random
from .errors import DataError

__all__ = ["PAD", "UNK", "tokenize", "Vocabulary", "pad_sequences", "lengths_to_mask", "BucketBatchSampler",
           "text_batches", "read_vectors", "vectors_for_vocabulary", "load_pretrained_embedding",
           "LabelledText", "load_sentence_polarity"]

PAD = "<pad>"
UNK = "<unk>"


# ------------------------------------------------------------------ tokens
def tokenize(text: str, *, lower: bool = False) -> list[str]:
    """Split already-tokenized text on whitespace (optionally lower-cased).

    ``"it 's not bad ."`` -> ``["it", "'s", "not", "bad", "."]``.  Nothing is
    split off or merged: the file's own tokenization is kept.
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize: expected a str, got {type(text).__name__}")
    return (text.lower() if lower else text).split()


class Vocabulary:
    """A two-way map between tokens and integer ids, with reserved padding and unknown tokens.

    ``Vocabulary(tokens, pad="<pad>", unk="<unk>", specials=())`` keeps
    ``tokens`` in the given order after the reserved ones: ``pad`` gets id 0,
    ``unk`` the next id, then ``specials`` (e.g. ``"<bos>"``).  Pass
    ``pad=None`` or ``unk=None`` to reserve no such token (then looking up an
    unknown token is a ``KeyError``).  Most users call :meth:`build`.

    ``vocab["film"]`` or ``vocab.index("film")`` gives an id (the unknown id
    for an unseen token), ``vocab.token(5)`` the token, ``vocab.encode(tokens)``
    an int64 array, ``vocab.decode(ids)`` the tokens back.
    """

    def __init__(self, tokens: Iterable[str] = (), *, pad: str | None = PAD, unk: str | None = UNK,
                 specials: Sequence[str] = (), counts: dict[str, int] | None = None) -> None:
        if pad is not None and pad == unk:
            raise ValueError(f"Vocabulary: the padding and unknown tokens must differ, both are {pad!r}")
        self._itos: list[str] = []
        self._stoi: dict[str, int] = {}
        reserved = [t for t in (pad, unk) if t is not None] + list(specials)
        for t in reserved:
            if t in self._stoi:
                raise ValueError(f"Vocabulary: reserved token {t!r} given twice")
            self._add(t)
        self._reserved = len(self._itos)
        for t in tokens:
            if not isinstance(t, str):
                raise TypeError(f"Vocabulary: tokens must be str, got {type(t).__name__} {t!r}")
            if t not in self._stoi:
                self._add(t)
        self.pad = pad
        self.unk = unk
        self.specials = tuple(specials)
        self.counts: dict[str, int] = dict(counts or {})

    def _add(self, token: str) -> None:
        self._stoi[token] = len(self._itos)
        self._itos.append(token)

    @classmethod
    def build(cls, corpus: Iterable[Sequence[str]], *, min_count: int = 1, max_size: int | None = None,
              pad: str | None = PAD, unk: str | None = UNK, specials: Sequence[str] = ()) -> "Vocabulary":
        """Count the tokens of ``corpus`` (an iterable of token lists) and keep the frequent ones.

        A token is kept when it occurs at least ``min_count`` times; with
        ``max_size`` only the ``max_size`` most frequent kept tokens (reserved
        tokens not counted).  Order: decreasing count, ties in order of first
        appearance, so the same corpus always gives the same ids.
        """
        if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
            raise ValueError(f"Vocabulary.build: min_count must be a positive integer, got {min_count!r}")
        if max_size is not None and (not isinstance(max_size, (int, np.integer)) or max_size < 0):
            raise ValueError(f"Vocabulary.build: max_size must be a non-negative integer or None, got {max_size!r}")
        if isinstance(corpus, str):
            raise TypeError("Vocabulary.build: expected an iterable of token lists, got one str "
                            "(tokenize it first, and wrap it in a list)")
        counter: Counter[str] = Counter()
        for sentence in corpus:
            if isinstance(sentence, str):
                raise TypeError(f"Vocabulary.build: each sentence must be a list of tokens, got the str "
                                f"{sentence[:40]!r} (use tokenize())")
            counter.update(sentence)
        reserved = {t for t in (pad, unk, *specials) if t is not None}
        kept = [t for t, c in sorted(counter.items(), key=lambda kv: -kv[1]) if c >= min_count and t not in reserved]
        if max_size is not None:
            kept = kept[:max_size]
        return cls(kept, pad=pad, unk=unk, specials=specials, counts=dict(counter))

    # ---------------------------------------------------------- lookups
    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __iter__(self) -> Iterator[str]:
        return iter(self._itos)

    def __getitem__(self, token: str) -> int:
        return self.index(token)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens, pad={self.pad!r}, unk={self.unk!r})"

    @property
    def pad_index(self) -> int | None:
        """Id of the padding token (0), or None when there is none."""
        return None if self.pad is None else self._stoi[self.pad]

    @property
    def unk_index(self) -> int | None:
        """Id of the unknown token, or None when there is none."""
        return None if self.unk is None else self._stoi[self.unk]

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order (a copy)."""
        return list(self._itos)

    def index(self, token: str) -> int:
        """The id of ``token``; the unknown id for an unseen token (a ``KeyError`` without one)."""
        i = self._stoi.get(token)
        if i is not None:
            return i
        if self.unk is None:
            raise KeyError(f"Vocabulary: unknown token {token!r} and no unknown token reserved (unk=None)")
        return self._stoi[self.unk]

    def token(self, index: int) -> str:
        """The token with id ``index``."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"Vocabulary.token: expected an int id, got {index!r}")
        if not 0 <= index < len(self._itos):
            raise IndexError(f"Vocabulary.token: id {index} out of range for {len(self._itos)} tokens")
        return self._itos[int(index)]

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Token list -> int64 id array (unknown tokens -> the unknown id)."""
        if isinstance(tokens, str):
            raise TypeError("Vocabulary.encode: expected a list of tokens, got a str (use tokenize())")
        return np.fromiter((self.index(t) for t in tokens), dtype=np.int64, count=len(tokens))

    def encode_all(self, corpus: Iterable[Sequence[str]]) -> list[np.ndarray]:
        """:meth:`encode` each sentence."""
        return [self.encode(s) for s in corpus]

    def decode(self, ids: Iterable[int], *, skip_pad: bool = True) -> list[str]:
        """Ids -> tokens, dropping padding ids unless ``skip_pad=False``."""
        pad = self.pad_index if skip_pad else None
        return [self.token(int(i)) for i in np.asarray(ids).reshape(-1) if int(i) != pad]

    def count(self, token: str) -> int:
        """How often ``token`` occurred in the corpus given to :meth:`build` (0 if unseen)."""
        return int(self.counts.get(token, 0))


# ----------------------------------------------------------------- padding
def pad_sequences(sequences: Sequence[Sequence[int]], *, padding_value: int = 0, max_len: int | None = None,
                  dtype: Any = np.int64, truncate: str = "post") -> tuple[np.ndarray, np.ndarray]:
    """Stack variable-length id sequences into one padded ``(batch, T)`` array, with their lengths.

    ``T`` is the longest length (or ``max_len``; longer sequences are cut at
    the end, ``truncate="post"``, or at the start, ``"pre"``).  Returns
    ``(padded, lengths)``; ``lengths`` is int64 and counts the real tokens
    after truncation.  ``lengths_to_mask(lengths)`` gives the matching mask.
    """
    if truncate not in ("post", "pre"):
        raise ValueError(f"pad_sequences: truncate must be 'post' or 'pre', got {truncate!r}")
    if max_len is not None and (isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer))
                                or max_len < 1):
        raise ValueError(f"pad_sequences: max_len must be a positive integer or None, got {max_len!r}")
    seqs = [np.asarray(s).reshape(-1) for s in sequences]
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    if max_len is not None:
        lengths = np.minimum(lengths, max_len)
    width = int(lengths.max()) if len(seqs) and max_len is None else (max_len or 0)
    out = np.full((len(seqs), width), padding_value, dtype=dtype)
    if not seqs:
        return out, lengths
    flat = np.concatenate([s[:n] if truncate == "post" else s[len(s) - n:] for s, n in zip(seqs, lengths)]) \
        if lengths.sum() else np.zeros(0, dtype=dtype)
    out[lengths_to_mask(lengths, width)] = flat  # row-major order: each row's real tokens, in order
    return out, lengths


def lengths_to_mask(lengths: Any, max_len: int | None = None) -> np.ndarray:
    """Boolean ``(batch, T)`` mask with ``mask[b, t] = t < lengths[b]`` (True at real tokens)."""
    lengths = np.asarray(lengths)
    if lengths.ndim != 1:
        raise ValueError(f"lengths_to_mask: lengths must be 1-D, got shape {lengths.shape}")
    if lengths.size and lengths.min() < 0:
        raise ValueError(f"lengths_to_mask: lengths must be non-negative, got {lengths.tolist()}")
    width = int(lengths.max()) if max_len is None and lengths.size else int(max_len or 0)
    if lengths.size and lengths.max() > width:
        raise ValueError(f"lengths_to_mask: max_len={width} is shorter than the longest length {int(lengths.max())}")
    return np.arange(width)[None, :] < lengths[:, None]


# --------------------------------------------------------------- bucketing
class BucketBatchSampler:
    """Index batches whose examples have similar lengths, in a fresh random order each epoch.

    ``BucketBatchSampler(lengths, batch_size, *, shuffle=True, drop_last=False,
    pool_batches=50, seed=None)``.  Iterating gives int64 index arrays; each
    index appears exactly once per epoch.  With ``shuffle`` each epoch:
    shuffle all indices, cut them into pools of ``pool_batches * batch_size``,
    sort each pool by length (stable), cut pools into batches, shuffle the
    batches.  Without ``shuffle`` the whole set is sorted by length once and
    batches come shortest first.  ``drop_last`` drops a pool's last,
    incomplete batch.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, *, shuffle: bool = True, drop_last: bool = False,
                 pool_batches: int = 50, seed: int | None = None, generator: np.random.Generator | None = None
                 ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"BucketBatchSampler: batch_size must be a positive integer, got {batch_size!r}")
        if not isinstance(pool_batches, (int, np.integer)) or pool_batches < 1:
            raise ValueError(f"BucketBatchSampler: pool_batches must be a positive integer, got {pool_batches!r}")
        self.lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.pool_batches = int(pool_batches)
        if generator is None:
            generator = np.random.default_rng(seed) if seed is not None else \
                np.random.default_rng(_random.get_generator(None).integers(2**63))
        self.generator = generator

    def _batches(self, order: np.ndarray) -> list[np.ndarray]:
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def __iter__(self) -> Iterator[np.ndarray]:
        n = len(self.lengths)
        if not self.shuffle:
            yield from self._batches(np.argsort(self.lengths, kind="stable"))
            return
        perm = self.generator.permutation(n)
        pool = self.pool_batches * self.batch_size
        batches: list[np.ndarray] = []
        for start in range(0, n, pool):
            chunk = perm[start:start + pool]
            batches += self._batches(chunk[np.argsort(self.lengths[chunk], kind="stable")])
        for k in self.generator.permutation(len(batches)):
            yield batches[k]

    def __len__(self) -> int:
        n, b = len(self.lengths), self.batch_size
        if not self.drop_last:
            return math.ceil(n / b) if not self.shuffle else sum(
                math.ceil(min(self.pool_batches * b, n - s) / b) for s in range(0, n, self.pool_batches * b))
        if not self.shuffle:
            return n // b
        return sum(min(self.pool_batches * b, n - s) // b for s in range(0, n, self.pool_batches * b))


def text_batches(sequences: Sequence[np.ndarray], *arrays: np.ndarray, batch_size: int, shuffle: bool = True,
                 bucket: bool = True, seed: int | None = None, padding_value: int = 0
                 ) -> Iterator[tuple[np.ndarray, ...]]:
    """Padded minibatches: yields ``(ids (B, T), lengths (B,), *arrays[batch])`` for one epoch.

    ``bucket=True`` groups similar lengths (:class:`BucketBatchSampler`);
    ``bucket=False`` takes plain random (or, without ``shuffle``, in-order)
    batches.  ``arrays`` (labels, ...) are indexed alongside.
    """
    n = len(sequences)
    for a in arrays:
        if len(a) != n:
            raise ValueError(f"text_batches: {n} sequences but an array of length {len(a)}")
    if bucket:
        sampler: Iterable[np.ndarray] = BucketBatchSampler([len(s) for s in sequences], batch_size,
                                                           shuffle=shuffle, seed=seed)
    else:
        rng = np.random.default_rng(seed) if seed is not None else _random.get_generator(None)
        order = rng.permutation(n) if shuffle else np.arange(n)
        sampler = (order[i:i + batch_size] for i in range(0, n, batch_size))
    for idx in sampler:
        ids, lengths = pad_sequences([sequences[i] for i in idx], padding_value=padding_value)
        yield (ids, lengths, *(np.asarray(a)[idx] for a in arrays))


# -------------------------------------------------------- pretrained vectors
def _read_word_list(words: Any) -> list[str]:
    if isinstance(words, (str, Path)):
        with open(words, encoding="utf-8") as f:
            return [line.rstrip("\n").split(" ")[0] for line in f if line.strip()]
    return [str(w) for w in words]


def read_vectors(path: str | Path, *, words: Any = None, keep: Iterable[str] | Callable[[str], bool] | None = None,
                 dtype: Any = np.float32) -> tuple[list[str], np.ndarray]:
    """Read word vectors: ``(words, matrix (n, D))``.

    * A text file (any suffix but ``.npy``): one ``word v1 ... vD`` per line,
      separated by spaces (GloVe), optionally after a ``count dim`` header line
      (word2vec's text format).  With ``keep`` only those words are kept, so a
      large file is read without holding all of it (``keep`` may also be a
      predicate ``word -> bool``).  The first occurrence of a word wins.
    * A ``.npy`` file: a 2-D matrix, row ``i`` the vector of ``words[i]``;
      ``words`` is a sequence or the path of a text file with one word per
      line, default ``<path without .npy>.vocab`` or ``.txt`` beside it.
      Loaded with ``allow_pickle=False`` (reading a file never runs code).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"read_vectors: no file at {path}")
    if keep is None or callable(keep):
        wanted = keep
    else:
        keep_set = set(keep)
        wanted = keep_set.__contains__
    if path.suffix == ".npy":
        matrix = np.load(path, allow_pickle=False)
        if matrix.ndim != 2:
            raise DataError(f"read_vectors: {path} must hold a 2-D matrix (words, dim), got shape {matrix.shape}")
        if words is None:
            for cand in (path.with_suffix(".vocab"), path.with_suffix(".txt")):
                if cand.is_file():
                    words = cand
                    break
            else:
                raise DataError(f"read_vectors: {path} needs its word list: pass words= (a list or a file with "
                                f"one word per line) or put {path.with_suffix('.vocab').name} beside it")
        names = _read_word_list(words)
        if len(names) != matrix.shape[0]:
            raise DataError(f"read_vectors: {len(names)} words for a matrix of {matrix.shape[0]} rows in {path}")
        if wanted is not None:
            rows = [i for i, w in enumerate(names) if wanted(w)]
            names, matrix = [names[i] for i in rows], matrix[rows]
        return names, np.ascontiguousarray(matrix, dtype=dtype)
    names: list[str] = []
    rows_: list[np.ndarray] = []
    seen: set[str] = set()
    dim = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, start=1):
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            if lineno == 1 and len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                continue  # word2vec header "count dim"
            if len(parts) < 2:
                continue
            word = parts[0]
            if dim is None:
                dim = len(parts) - 1
            elif len(parts) - 1 != dim:
                raise DataError(f"read_vectors: {path} line {lineno} has {len(parts) - 1} numbers, earlier lines "
                                f"have {dim}")
            if word in seen or (wanted is not None and not wanted(word)):
                continue
            try:
                rows_.append(np.asarray(parts[1:], dtype=np.float64).astype(dtype))
            except ValueError:
                raise DataError(f"read_vectors: {path} line {lineno}: not a word followed by numbers") from None
            names.append(word)
            seen.add(word)
    if dim is None:
        raise DataError(f"read_vectors: {path} holds no vectors")
    matrix = np.stack(rows_) if rows_ else np.zeros((0, dim), dtype=dtype)
    return names, matrix


def vectors_for_vocabulary(vocab: Vocabulary, words: Sequence[str], matrix: np.ndarray, *,
                           lowercase_fallback: bool = True, seed: int | None = None,
                           dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Arrange pretrained vectors in the vocabulary's order: ``(weights (len(vocab), D), found (len(vocab),))``.

    Row ``i`` is the vector of ``vocab.token(i)`` (or, with
    ``lowercase_fallback``, of the first word that equals it after
    lower-casing both); tokens without one get
    N(0, s^2) with ``s`` the standard deviation of the given vectors (so they
    sit on the same scale); the padding row is zero.  ``found[i]`` says
    whether row ``i`` came from the file.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        raise ValueError(f"vectors_for_vocabulary: matrix must be ({len(words)}, dim), got {matrix.shape}")
    where = {w: i for i, w in enumerate(words)}
    where_lower: dict[str, int] = {}
    for i, w in enumerate(words):
        where_lower.setdefault(w.lower(), i)
    scale = float(matrix.std()) if matrix.size else 1.0
    rng = np.random.default_rng(seed)
    out = (rng.standard_normal((len(vocab), matrix.shape[1])) * (scale or 1.0)).astype(dtype)
    found = np.zeros(len(vocab), dtype=bool)
    for i, tok in enumerate(vocab):
        j = where.get(tok)
        if j is None and lowercase_fallback:
            j = where_lower.get(tok.lower())
        if j is not None:
            out[i] = matrix[j]
            found[i] = True
    if vocab.pad_index is not None:
        out[vocab.pad_index] = 0
        found[vocab.pad_index] = False
    return out, found


def load_pretrained_embedding(path: str | Path, vocab: Vocabulary, *, words: Any = None, freeze: bool = False,
                              lowercase_fallback: bool = True, seed: int | None = None) -> tuple[Any, int]:
    """An ``nn.Embedding`` holding pretrained vectors for ``vocab``, and how many tokens were found.

    Reads ``path`` with :func:`read_vectors` (text or ``.npy``; only the
    vocabulary's words are kept), arranges the rows with
    :func:`vectors_for_vocabulary` and returns
    ``(Embedding(len(vocab), D, padding_idx=vocab.pad_index), found_count)``;
    ``freeze=True`` makes the table untrainable.
    """
    from ..nn.sparse import Embedding

    exact = set(vocab.tokens)
    lowered = {t.lower() for t in exact}
    names, matrix = read_vectors(path, words=words, keep=(lambda w: w in exact or w.lower() in lowered)
                                 if lowercase_fallback else exact)
    if not names:
        raise DataError(f"load_pretrained_embedding: none of the {len(vocab)} vocabulary tokens is in {path}")
    weights, found = vectors_for_vocabulary(vocab, names, matrix, lowercase_fallback=lowercase_fallback, seed=seed)
    emb = Embedding(len(vocab), weights.shape[1], padding_idx=vocab.pad_index, _weight=weights, _freeze=freeze)
    return emb, int(found.sum())


# ------------------------------------------------------- sentence polarity
@dataclass
class LabelledText:
    """Tokenized sentences with integer labels (``labels[i]`` for ``sentences[i]``)."""

    sentences: list[list[str]]
    labels: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.sentences)

    def split(self, fractions: Sequence[float] = (0.8, 0.1, 0.1), *, seed: int = 0) -> list["LabelledText"]:
        """A seeded random split into parts of the given fractions (the last part takes the remainder)."""
        if any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-9):
            raise ValueError(f"LabelledText.split: fractions must be non-negative and sum to 1, got {fractions}")
        perm = np.random.default_rng(seed).permutation(len(self))
        cuts = np.round(np.cumsum(fractions)[:-1] * len(self)).astype(int)
        return [LabelledText([self.sentences[i] for i in part], self.labels[part], self.source)
                for part in np.split(perm, cuts)]


def load_sentence_polarity(path: str | Path, *, lower: bool = False) -> LabelledText:
    """The sentence-polarity CSV: ``"label","text"`` records, label ``1`` (positive) or ``-1`` (negative).

    ``path`` is the CSV file or the folder holding ``sentences.csv``.  Labels
    come back as 1 (positive) and 0 (negative), int64; the text is split with
    :func:`tokenize` (it is already tokenized).  Pang & Lee (2005), "Seeing
    stars"; the file is not shipped with thalweg (see the shared data README).
    """
    p = Path(path)
    if p.is_dir():
        p = p / "sentences.csv"
    if not p.is_file():
        raise DataError(f"load_sentence_polarity: no file at {p}")
    text = p.read_text(encoding="utf-8-sig")
    sentences: list[list[str]] = []
    labels: list[int] = []
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row:
            continue
        if len(row) != 2 or row[0].strip() not in ("1", "-1"):
            raise DataError(f"load_sentence_polarity: {p} record {lineno} is not \"label\",\"text\" with label "
                            f"1 or -1: {row[:2]!r}")
        sentences.append(tokenize(row[1], lower=lower))
        labels.append(1 if row[0].strip() == "1" else 0)
    if not sentences:
        raise DataError(f"load_sentence_polarity: {p} holds no records")
    return LabelledText(sentences, np.asarray(labels, dtype=np.int64), str(p))
