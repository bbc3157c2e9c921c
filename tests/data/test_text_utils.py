"""Text utilities: vocabulary, tokenization, padding with lengths and masks, length buckets, word vectors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from thalweg.data import DataError
from thalweg.data.text import (PAD, UNK, BucketBatchSampler, Vocabulary, lengths_to_mask, load_pretrained_embedding,
                               load_sentence_polarity, pad_sequences, read_vectors, text_batches, tokenize,
                               vectors_for_vocabulary)

CORPUS = [["the", "film", "is", "good"], ["the", "plot", "is", "bad"], ["good", "good", "fun"], ["the", "end"]]


# ------------------------------------------------------------- vocabulary
def test_tokenize_splits_already_tokenized_text_only_on_whitespace() -> None:
    assert tokenize("it 's  not bad .\n") == ["it", "'s", "not", "bad", "."]
    assert tokenize("The Rock", lower=True) == ["the", "rock"]
    with pytest.raises(TypeError, match="tokenize"):
        tokenize(["a"])  # type: ignore[arg-type]


def test_vocabulary_reserves_pad_and_unk_and_orders_by_count_then_first_seen() -> None:
    v = Vocabulary.build(CORPUS)
    # counts: the 3, good 3, is 2, film 1, plot 1, bad 1, fun 1, end 1; ties keep first appearance
    assert v.tokens == [PAD, UNK, "the", "good", "is", "film", "plot", "bad", "fun", "end"]
    assert v.pad_index == 0 and v.unk_index == 1 and len(v) == 10
    assert v["film"] == 5 and v.index("never-seen") == 1 and v.token(3) == "good"
    assert v.count("good") == 3 and v.count("zzz") == 0
    np.testing.assert_array_equal(v.encode(["the", "zzz", "fun"]), [2, 1, 8])
    assert v.encode(["the"]).dtype == np.int64
    assert v.decode([2, 3, 0, 0]) == ["the", "good"]
    assert v.decode([2, 0], skip_pad=False) == ["the", PAD]


def test_min_count_and_max_size_send_rare_tokens_to_unk() -> None:
    v = Vocabulary.build(CORPUS, min_count=2)
    assert v.tokens == [PAD, UNK, "the", "good", "is"]
    assert v["plot"] == v.unk_index
    small = Vocabulary.build(CORPUS, max_size=1, specials=("<bos>",))
    assert small.tokens == [PAD, UNK, "<bos>", "the"]


def test_vocabulary_without_unk_refuses_unknown_tokens_and_bad_input_is_named() -> None:
    v = Vocabulary(["a", "b"], unk=None)
    assert v.tokens == [PAD, "a", "b"] and v.unk_index is None
    with pytest.raises(KeyError, match="unknown token 'c'"):
        v.index("c")
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.build(CORPUS, min_count=0)
    with pytest.raises(TypeError, match="list of tokens"):
        Vocabulary.build(["a sentence as a string"])
    with pytest.raises(ValueError, match="must differ"):
        Vocabulary(pad="<x>", unk="<x>")
    with pytest.raises(IndexError, match="out of range"):
        v.token(7)


# ---------------------------------------------------------------- padding
def test_pad_sequences_returns_padded_ids_and_lengths_and_the_mask_matches() -> None:
    padded, lengths = pad_sequences([[5, 6, 7], [8], [9, 10]], padding_value=0)
    np.testing.assert_array_equal(padded, [[5, 6, 7], [8, 0, 0], [9, 10, 0]])
    np.testing.assert_array_equal(lengths, [3, 1, 2])
    mask = lengths_to_mask(lengths)
    np.testing.assert_array_equal(mask, padded != 0)
    assert padded.dtype == np.int64 and lengths.dtype == np.int64


def test_pad_sequences_truncates_at_either_end_and_pads_to_max_len() -> None:
    seqs = [[1, 2, 3, 4], [5]]
    post, lp = pad_sequences(seqs, max_len=2)
    pre, _ = pad_sequences(seqs, max_len=2, truncate="pre")
    np.testing.assert_array_equal(post, [[1, 2], [5, 0]])
    np.testing.assert_array_equal(pre, [[3, 4], [5, 0]])
    np.testing.assert_array_equal(lp, [2, 1])
    wide, _ = pad_sequences([[1]], max_len=4, padding_value=-1)
    np.testing.assert_array_equal(wide, [[1, -1, -1, -1]])
    with pytest.raises(ValueError, match="truncate"):
        pad_sequences(seqs, truncate="middle")
    with pytest.raises(ValueError, match="shorter than the longest"):
        lengths_to_mask([3, 5], max_len=4)


# -------------------------------------------------------------- bucketing
def test_bucket_sampler_covers_every_index_once_and_groups_similar_lengths() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=1000)
    sampler = BucketBatchSampler(lengths, 20, pool_batches=10, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 50
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(1000))
    # padding waste: bucketed batches are far tighter than random ones of the same size
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    random_spread = np.mean([lengths[b].max() - lengths[b].min() for b in np.split(rng.permutation(1000), 50)])
    assert spread < 0.25 * random_spread
    # a new epoch gives a new order, the same seed the same one
    assert not all(np.array_equal(a, b) for a, b in zip(batches, list(sampler)))
    again = list(BucketBatchSampler(lengths, 20, pool_batches=10, seed=3))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))


def test_bucket_sampler_without_shuffle_is_sorted_and_drop_last_drops_the_tail() -> None:
    lengths = [5, 1, 3, 2, 4]
    assert [b.tolist() for b in BucketBatchSampler(lengths, 2, shuffle=False)] == [[1, 3], [2, 4], [0]]
    dropped = BucketBatchSampler(lengths, 2, shuffle=False, drop_last=True)
    assert len(dropped) == 2 and len(list(dropped)) == 2
    assert len(BucketBatchSampler(lengths, 2, drop_last=True, seed=0)) == len(list(
        BucketBatchSampler(lengths, 2, drop_last=True, seed=0)))
    with pytest.raises(ValueError, match="batch_size"):
        BucketBatchSampler(lengths, 0)


def test_text_batches_yield_padded_ids_lengths_and_aligned_labels() -> None:
    seqs = [np.arange(1, n + 1) for n in (3, 1, 4, 2, 5)]
    labels = np.array([0, 1, 0, 1, 1])
    seen = []
    for ids, lengths, y in text_batches(seqs, labels, batch_size=2, seed=0):
        for row, n, label in zip(ids, lengths, y):
            k = [len(s) for s in seqs].index(n)
            np.testing.assert_array_equal(row[:n], seqs[k])
            assert np.all(row[n:] == 0) and label == labels[k]
            seen.append(k)
    assert sorted(seen) == list(range(5))
    with pytest.raises(ValueError, match="array of length"):
        next(text_batches(seqs, labels[:3], batch_size=2))


# ---------------------------------------------------------- word vectors
def _write_glove(path: Path, header: bool = False) -> None:
    lines = ["the 0.1 0.2 0.3", "good 1.0 -1.0 0.5", "Film 2 2 2", "unused 9 9 9", "good 7 7 7"]
    path.write_text(("5 3\n" if header else "") + "\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("header", [False, True])
def test_read_vectors_text_format_keeps_first_occurrence_and_filters(tmp_path: Path, header: bool) -> None:
    p = tmp_path / "vec.txt"
    _write_glove(p, header)
    words, m = read_vectors(p)
    assert words == ["the", "good", "Film", "unused"] and m.shape == (4, 3) and m.dtype == np.float32
    np.testing.assert_allclose(m[1], [1.0, -1.0, 0.5])
    words, m = read_vectors(p, keep={"good"})
    assert words == ["good"] and m.shape == (1, 3)


def test_read_vectors_npy_with_its_word_list_and_bad_files(tmp_path: Path) -> None:
    matrix = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.save(tmp_path / "v.npy", matrix)
    with pytest.raises(DataError, match="word list"):
        read_vectors(tmp_path / "v.npy")
    (tmp_path / "v.vocab").write_text("a\nb\nc\n")
    words, m = read_vectors(tmp_path / "v.npy")
    assert words == ["a", "b", "c"]
    np.testing.assert_array_equal(m, matrix)
    words, _ = read_vectors(tmp_path / "v.npy", words=["x", "y", "z"], keep=["y"])
    assert words == ["y"]
    with pytest.raises(DataError, match="3 rows"):
        read_vectors(tmp_path / "v.npy", words=["x"])
    bad = tmp_path / "bad.txt"
    bad.write_text("a 1 2\nb 1\n")
    with pytest.raises(DataError, match="line 2"):
        read_vectors(bad)
    with pytest.raises(DataError, match="no file"):
        read_vectors(tmp_path / "missing.txt")


def test_pretrained_vectors_fill_an_embedding_in_vocabulary_order(tmp_path: Path) -> None:
    p = tmp_path / "vec.txt"
    _write_glove(p)
    vocab = Vocabulary(["good", "film", "the", "rare"])
    emb, found = load_pretrained_embedding(p, vocab, seed=0)
    w = emb.weight.array
    assert emb.weight.shape == (6, 3) and emb.padding_idx == 0 and found == 3
    np.testing.assert_allclose(w[vocab["good"]], [1.0, -1.0, 0.5])
    np.testing.assert_allclose(w[vocab["film"]], [2, 2, 2])  # found through the lower-case fallback
    np.testing.assert_allclose(w[vocab["the"]], [0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_array_equal(w[0], 0)
    assert np.all(np.isfinite(w[vocab["rare"]])) and np.any(w[vocab["rare"]] != 0)
    frozen, _ = load_pretrained_embedding(p, vocab, freeze=True)
    assert not frozen.weight.requires_grad and emb.weight.requires_grad
    weights, hit = vectors_for_vocabulary(vocab, ["GOOD"], np.ones((1, 3)), lowercase_fallback=False)
    assert not hit.any()
    with pytest.raises(DataError, match="none of"):
        load_pretrained_embedding(p, Vocabulary(["zzz"]))


# ------------------------------------------------------ sentence polarity
def test_load_sentence_polarity_reads_the_csv_format(tmp_path: Path) -> None:
    p = tmp_path / "sentences.csv"
    p.write_text('\ufeff"1","a fine , "" quoted "" film . "\n"-1","dull\n"\n', encoding="utf-8")
    d = load_sentence_polarity(tmp_path)
    assert d.sentences == [["a", "fine", ",", '"', "quoted", '"', "film", "."], ["dull"]]
    np.testing.assert_array_equal(d.labels, [1, 0])
    p.write_text('"2","x"\n')
    with pytest.raises(DataError, match="label"):
        load_sentence_polarity(p)


def _shared_polarity() -> Path | None:
    here = Path(__file__).resolve().parents[2]
    for root in ([Path(os.environ["THALWEG_DATA"])] if os.environ.get("THALWEG_DATA") else []) + \
            [here.parent / "shared" / "data"]:
        if (root / "sentence-polarity" / "sentences.csv").is_file():
            return root / "sentence-polarity"
    return None


def test_the_shared_sentence_polarity_file_when_present() -> None:
    folder = _shared_polarity()
    if folder is None:
        pytest.skip("sentence-polarity not found (set THALWEG_DATA or place ../shared/data)")
    d = load_sentence_polarity(folder)
    assert len(d) == 4000 and int(d.labels.sum()) == 2000
    train, dev, test = d.split((0.8, 0.1, 0.1), seed=0)
    assert (len(train), len(dev), len(test)) == (3200, 400, 400)
    again = d.split((0.8, 0.1, 0.1), seed=0)[2]
    assert again.sentences == test.sentences
