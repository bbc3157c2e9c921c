"""Sessions from timestamps, the time split, item indices and GRU4Rec's session-parallel mini-batches."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from thalweg.data import DataError
from thalweg_lab.sessions import (ItemIndex, Sessions, build_sessions, load_interactions, session_parallel_batches,
                                   split_by_time)


def _sessions(seqs: list[list[int]], starts: list[float] | None = None) -> Sessions:
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(np.int64)
    start = np.asarray(starts if starts is not None else np.arange(len(seqs)), dtype=np.float64)
    return Sessions(np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs]), offsets,
                    np.zeros(len(seqs), dtype=np.int64), start, start + 1)


def test_sessions_are_cut_at_gaps_per_user_and_ties_keep_the_file_order() -> None:
    user = np.array([2, 1, 1, 1, 2, 1, 1])
    item = np.array([50, 10, 11, 12, 51, 13, 14])
    t = np.array([100, 0, 10, 10, 200, 5000, 5010])  # user 1: 0, 10, 10 | 5000, 5010; user 2: 100, 200
    s = build_sessions(user, item, t, gap=3600)
    assert len(s) == 3
    assert [s[k].tolist() for k in range(3)] == [[10, 11, 12], [13, 14], [50, 51]]
    np.testing.assert_array_equal(s.user, [1, 1, 2])
    np.testing.assert_array_equal(s.start, [0, 5000, 100])
    np.testing.assert_array_equal(s.end, [10, 5010, 200])
    np.testing.assert_array_equal(s.lengths, [3, 2, 2])
    # a smaller gap splits more; min_length drops short sessions
    assert [x.tolist() for x in (build_sessions(user, item, t, gap=5, min_length=2)[k] for k in range(1))] == [[11, 12]]
    with pytest.raises(ValueError, match="one length"):
        build_sessions(user, item[:3], t)


def test_split_by_time_tests_on_the_latest_sessions_and_drops_unseen_items() -> None:
    s = _sessions([[1, 2, 3], [2, 3], [3, 1], [9, 1], [2, 9, 9]], starts=[0, 1, 2, 4, 3])
    train, test = split_by_time(s, test_fraction=0.4)
    # start order 0, 1, 2, 4(start 3), 3(start 4): the last two by start time are sessions 4 and 3
    assert [train[k].tolist() for k in range(len(train))] == [[1, 2, 3], [2, 3], [3, 1]]
    # session [2, 9, 9] loses the unseen item 9 -> [2] -> too short; [9, 1] -> [1] -> too short
    assert len(test) == 0
    train, test = split_by_time(_sessions([[1, 2], [2, 3], [1, 4, 3]]), test_fraction=0.34)
    assert [test[k].tolist() for k in range(len(test))] == [[1, 3]]
    with pytest.raises(ValueError, match="test_fraction"):
        split_by_time(s, test_fraction=1.0)


def test_item_index_maps_raw_ids_densely_and_refuses_unknown_ones() -> None:
    idx = ItemIndex(np.array([40, 7, 7, 1000]))
    assert len(idx) == 3 and 7 in idx and 8 not in idx
    np.testing.assert_array_equal(idx.encode([1000, 7, 40]), [2, 0, 1])
    np.testing.assert_array_equal(idx.decode([2, 0]), [1000, 7])
    with pytest.raises(KeyError, match="8"):
        idx.encode([8])
    s = _sessions([[40, 7], [1000, 40]]).map_items(idx)
    assert s[1].tolist() == [2, 1]


def test_session_parallel_batches_follow_the_papers_figure_2() -> None:
    # the paper's example: sessions of lengths 4, 2, 6, 2, 3 (items named by session*10 + position)
    seqs = [[10, 11, 12, 13], [20, 21], [30, 31, 32, 33, 34, 35], [40, 41], [50, 51, 52]]
    batches = list(session_parallel_batches(_sessions(seqs), 3))
    inputs = [[int(x) if v else None for x, v in zip(b.inputs, b.valid)] for b in batches]
    assert inputs[:4] == [[10, 20, 30], [11, 40, 31], [12, 50, 32], [None, 51, 33]]
    assert [int(x) for x in batches[0].targets] == [11, 21, 31]
    # row 1 switched from session 1 to 3 at step 2, row 1 again to session 4 at step 3: reset flags
    assert [b.reset.tolist() for b in batches[:3]] == [[True, True, True], [False, True, False],
                                                      [False, True, False]]
    # every (event, next event) pair of every session is the (input, target) of exactly one valid row
    pairs = sorted((int(i), int(t)) for b in batches for i, t, v in zip(b.inputs, b.targets, b.valid) if v)
    expected = sorted((s[k], s[k + 1]) for s in seqs for k in range(len(s) - 1))
    assert pairs == expected
    # within a row, consecutive steps continue the same session unless reset
    for prev, cur in zip(batches, batches[1:]):
        same = cur.valid & ~cur.reset
        np.testing.assert_array_equal(cur.inputs[same], prev.targets[same])
        np.testing.assert_array_equal(cur.session[same], prev.session[same])


def test_session_parallel_batches_shuffle_is_seeded_and_short_sessions_are_refused() -> None:
    s = _sessions([[1, 2], [3, 4, 5], [6, 7], [8, 9, 10, 11]])
    a = [b.inputs.tolist() for b in session_parallel_batches(s, 2, shuffle=True, seed=4)]
    b = [b.inputs.tolist() for b in session_parallel_batches(s, 2, shuffle=True, seed=4)]
    assert a == b
    big = list(session_parallel_batches(s, 10))  # more rows than sessions: idle rows are never valid
    assert all(not batch.valid[4:].any() for batch in big) and len(big) == 3
    with pytest.raises(ValueError, match="at least 2 events"):
        list(session_parallel_batches(_sessions([[1, 2], [3]]), 2))
    with pytest.raises(ValueError, match="batch_size"):
        list(session_parallel_batches(s, 0))


def test_load_interactions_reads_both_movielens_formats(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "ml-100k.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t5\t3\t100\n2\t6\t4\t50\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "u.data").write_text("1\t5\t3\t100\n2\t6\t4\t50\n")
    for folder in ("a", "b"):
        log = load_interactions(tmp_path / folder)
        np.testing.assert_array_equal(log.user, [1, 2])
        np.testing.assert_array_equal(log.item, [5, 6])
        np.testing.assert_array_equal(log.timestamp, [100, 50])
        assert log.user.dtype == np.int64 and len(log) == 2
    with pytest.raises(DataError, match="neither"):
        load_interactions(tmp_path)


def test_the_shared_movielens_file_when_present() -> None:
    here = Path(__file__).resolve().parents[2]
    roots = ([Path(os.environ["THALWEG_DATA"])] if os.environ.get("THALWEG_DATA") else []) + \
        [here.parent / "shared" / "data"]
    folder = next((r / "movielens-100k" for r in roots if (r / "movielens-100k" / "ml-100k.inter").is_file()), None)
    if folder is None:
        pytest.skip("movielens-100k not found (set THALWEG_DATA or place ../shared/data)")
    log = load_interactions(folder)
    assert len(log) == 100_000 and len(np.unique(log.user)) == 943 and len(np.unique(log.item)) == 1682
    s = build_sessions(log.user, log.item, log.timestamp, gap=3600, min_length=2)
    assert s.lengths.min() >= 2 and s.n_events <= 100_000
    train, test = split_by_time(s, test_fraction=0.1)
    assert train.start.max() <= test.start.min()
