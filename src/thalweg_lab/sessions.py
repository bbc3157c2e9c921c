"""Sessions of item views from timestamped interactions, and GRU4Rec's session-parallel mini-batches.

Session-based recommendation (Hidasi et al. 2016, "Session-based
Recommendations with Recurrent Neural Networks", arXiv:1511.06939) sees a
user only through the current session: a short sequence of item events.
This module turns an interaction log into such sessions and feeds them to a
recurrent model:

* ``load_interactions(path)``: MovieLens 100K as the RecBole ``.inter`` file
  (tab-separated, with a ``user_id:token item_id:token rating:float
  timestamp:float`` header) or the original GroupLens ``u.data`` (tab-separated
  ``user item rating timestamp`` without a header).
* ``build_sessions(user, item, timestamp, gap=3600)``: each user's events in
  time order (a stable sort, so events with the same timestamp keep the
  file's order), cut into a new session wherever two consecutive events are
  more than ``gap`` seconds apart.  Sessions are stored flat (CSR-like):
  ``items`` holds every event, ``offsets[s]:offsets[s + 1]`` is session ``s``.
* ``split_by_time(sessions, test_fraction)``: the sessions that *start* last
  form the test set (the paper tests on the day after its training period);
  test events whose item never occurs in training are dropped, then test
  sessions shorter than 2 (the paper's preprocessing).
* ``ItemIndex``: raw item ids -> ``0 .. n_items - 1`` from the training sessions.
* ``session_parallel_batches(sessions, batch_size)``: the paper's Section
  3.1.1.  Row ``r`` of the mini-batch follows one session; at each step the
  input is its current item and the target its next item.  When a row's
  session has no next item, the row takes the next unused session and the
  model must reset that row's hidden state (``batch.reset``).  When no session
  is left, the row goes idle (``batch.valid`` False) while the others finish,
  so every event of every session is used (the original code stops at the
  first row it cannot refill, dropping the tail).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from thalweg.data.errors import DataError

__all__ = ["Interactions", "load_interactions", "Sessions", "build_sessions", "split_by_time", "ItemIndex",
           "SessionBatch", "session_parallel_batches"]


# ---------------------------------------------------------------- raw log
@dataclass
class Interactions:
    """An interaction log as aligned arrays: ``user``, ``item`` (int64), ``rating``, ``timestamp`` (float64)."""

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.user)


def load_interactions(path: str | Path) -> Interactions:
    """Read MovieLens-style ratings: a ``.inter`` file with a header, or GroupLens ``u.data``.

    ``path`` is the file or a folder holding ``ml-100k.inter`` or ``u.data``.
    The files are not shipped with thalweg (GroupLens terms: research use).
    """
    p = Path(path)
    if p.is_dir():
        for name in ("ml-100k.inter", "u.data"):
            if (p / name).is_file():
                p = p / name
                break
        else:
            raise DataError(f"load_interactions: {p} holds neither ml-100k.inter nor u.data")
    if not p.is_file():
        raise DataError(f"load_interactions: no file at {p}")
    with open(p, encoding="utf-8") as f:
        first = f.readline()
    header = 1 if any(c.isalpha() for c in first) else 0
    try:
        table = np.loadtxt(p, delimiter="\t", skiprows=header, dtype=np.float64, ndmin=2)
    except ValueError as e:
        raise DataError(f"load_interactions: {p} is not tab-separated 'user item rating timestamp' rows ({e})") \
            from None
    if table.shape[1] < 4:
        raise DataError(f"load_interactions: {p} needs 4 columns (user, item, rating, timestamp), got {table.shape[1]}")
    return Interactions(table[:, 0].astype(np.int64), table[:, 1].astype(np.int64), table[:, 2].copy(),
                        table[:, 3].copy(), str(p))


# --------------------------------------------------------------- sessions
@dataclass
class Sessions:
    """Sessions stored flat: session ``s`` is ``items[offsets[s]:offsets[s + 1]]``.

    ``user[s]`` is the session's user, ``start[s]``/``end[s]`` the times of its
    first and last events.
    """

    items: np.ndarray
    offsets: np.ndarray
    user: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __post_init__(self) -> None:
        if self.offsets.ndim != 1 or len(self.offsets) == 0 or self.offsets[0] != 0 \
                or self.offsets[-1] != len(self.items) or np.any(np.diff(self.offsets) < 0):
            raise ValueError(f"Sessions: offsets must rise from 0 to len(items)={len(self.items)}, "
                             f"got {self.offsets[:5].tolist()}...")
        n = len(self.offsets) - 1
        for name in ("user", "start", "end"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Sessions: {name} must hold one value per session ({n}), got "
                                 f"{len(getattr(self, name))}")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, s: int) -> np.ndarray:
        return self.items[self.offsets[s]:self.offsets[s + 1]]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def n_events(self) -> int:
        return len(self.items)

    def subset(self, index: np.ndarray) -> "Sessions":
        """The sessions ``index`` (ints or a boolean mask), in that order."""
        idx = np.arange(len(self))[np.asarray(index)] if np.asarray(index).dtype == bool else np.asarray(index)
        lengths = self.lengths[idx]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        # event k of the new layout comes from old position k - new_start + old_start of its session
        gather = np.arange(offsets[-1], dtype=np.int64) + np.repeat(self.offsets[idx] - offsets[:-1], lengths)
        return Sessions(self.items[gather], offsets, self.user[idx], self.start[idx], self.end[idx])

    def keep_events(self, keep: np.ndarray) -> "Sessions":
        """Drop the events where ``keep`` (one bool per event) is False; sessions may become shorter or empty."""
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != self.items.shape:
            raise ValueError(f"Sessions.keep_events: need one flag per event ({len(self.items)}), got {keep.shape}")
        session_of = np.repeat(np.arange(len(self)), self.lengths)
        counts = np.bincount(session_of[keep], minlength=len(self))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return Sessions(self.items[keep], offsets, self.user, self.start, self.end)

    def min_length(self, n: int) -> "Sessions":
        """Only the sessions with at least ``n`` events."""
        return self.subset(self.lengths >= n)

    def map_items(self, mapping: "ItemIndex") -> "Sessions":
        """The same sessions with items re-indexed by ``mapping`` (unknown items must be dropped first)."""
        return Sessions(mapping.encode(self.items), self.offsets, self.user, self.start, self.end)


def build_sessions(user: np.ndarray, item: np.ndarray, timestamp: np.ndarray, *, gap: float = 3600.0,
                   min_length: int = 1) -> Sessions:
    """Cut each user's time-ordered events into sessions at gaps longer than ``gap`` seconds.

    Events are ordered by (user, timestamp) with a *stable* sort, so equal
    timestamps keep their order in the input.  A new session starts at a
    user's first event and wherever ``t[k] - t[k-1] > gap``.  Sessions shorter
    than ``min_length`` are dropped.  Sessions come out ordered by user, then
    time; use ``split_by_time`` for a time-ordered train/test split.
    """
    user, item, timestamp = (np.asarray(a) for a in (user, item, timestamp))
    if not (user.shape == item.shape == timestamp.shape) or user.ndim != 1:
        raise ValueError(f"build_sessions: user, item and timestamp must be 1-D of one length, got "
                         f"{user.shape}, {item.shape}, {timestamp.shape}")
    if not gap >= 0:
        raise ValueError(f"build_sessions: gap must be a non-negative number of seconds, got {gap!r}")
    order = np.lexsort((timestamp, user))  # lexsort is stable: ties keep the input order
    u, it, t = user[order], item[order].astype(np.int64), timestamp[order]
    new = np.ones(len(u), dtype=bool)
    if len(u) > 1:
        new[1:] = (u[1:] != u[:-1]) | ((t[1:] - t[:-1]) > gap)
    starts = np.flatnonzero(new)
    offsets = np.concatenate([starts, [len(u)]]).astype(np.int64)
    ends = offsets[1:] - 1
    sessions = Sessions(it, offsets, u[starts].astype(np.int64), t[starts].astype(np.float64),
                        t[ends].astype(np.float64) if len(ends) else np.zeros(0))
    return sessions.min_length(min_length) if min_length > 1 else sessions


def split_by_time(sessions: Sessions, *, test_fraction: float = 0.1) -> tuple[Sessions, Sessions]:
    """Train on the sessions that start first, test on the last ``test_fraction`` of them.

    Sessions are ordered by start time (stable); the last
    ``round(test_fraction * n)`` are the test set.  Test events on items
    unseen in training are removed, then test sessions shorter than 2 events
    (nothing to predict).  Both sets come back in start-time order.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"split_by_time: test_fraction must lie in (0, 1), got {test_fraction!r}")
    order = np.argsort(sessions.start, kind="stable")
    n_test = int(round(test_fraction * len(sessions)))
    train = sessions.subset(order[:len(order) - n_test])
    test = sessions.subset(order[len(order) - n_test:])
    test = test.keep_events(np.isin(test.items, np.unique(train.items))).min_length(2)
    return train, test


class ItemIndex:
    """Raw item ids -> dense indices ``0 .. n_items - 1`` (sorted by raw id)."""

    def __init__(self, items: np.ndarray) -> None:
        self.raw = np.unique(np.asarray(items, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.raw)

    def __contains__(self, item: int) -> bool:
        k = np.searchsorted(self.raw, item)
        return bool(k < len(self.raw) and self.raw[k] == item)

    def encode(self, items: np.ndarray) -> np.ndarray:
        """Dense indices of raw ids (every id must be known)."""
        items = np.asarray(items, dtype=np.int64)
        k = np.searchsorted(self.raw, items)
        bad = (k >= len(self.raw)) | (self.raw[np.minimum(k, len(self.raw) - 1)] != items) if len(self.raw) \
            else np.ones(items.shape, dtype=bool)
        if np.any(bad):
            raise KeyError(f"ItemIndex: unknown item ids {np.unique(items[bad])[:10].tolist()}")
        return k.astype(np.int64)

    def decode(self, index: np.ndarray) -> np.ndarray:
        """Raw ids of dense indices."""
        return self.raw[np.asarray(index, dtype=np.int64)]


# ------------------------------------------------- session-parallel batches
class SessionBatch(NamedTuple):
    """One step of session-parallel mini-batching (all arrays have one entry per row).

    ``inputs``/``targets``: the current and the next item of the row's session
    (0 where the row is idle); ``valid``: the row holds a session at this
    step; ``reset``: the row started a new session at this step, so its hidden
    state must be zeroed before the step; ``session``: the session index (-1
    when idle).
    """

    inputs: np.ndarray
    targets: np.ndarray
    valid: np.ndarray
    reset: np.ndarray
    session: np.ndarray


def session_parallel_batches(sessions: Sessions, batch_size: int, *, shuffle: bool = False,
                             seed: int | None = None) -> Iterator[SessionBatch]:
    """Session-parallel mini-batches over ``sessions`` (Hidasi et al. 2016, Section 3.1.1).

    The sessions are taken in their order (a seeded random order with
    ``shuffle``); the first ``batch_size`` fill the rows, and each row that
    reaches its session's last event takes the next session.  Every session
    needs at least 2 events.  Yields one :class:`SessionBatch` per step; each
    (event, next event) pair of every session is the (input, target) of
    exactly one valid row of one step.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"session_parallel_batches: batch_size must be a positive integer, got {batch_size!r}")
    lengths = sessions.lengths
    if np.any(lengths < 2):
        raise ValueError(f"session_parallel_batches: every session needs at least 2 events; "
                         f"{int(np.sum(lengths < 2))} have fewer (use sessions.min_length(2))")
    order = np.random.default_rng(seed).permutation(len(sessions)) if shuffle else np.arange(len(sessions))
    rows = min(int(batch_size), len(order))
    if rows == 0:
        return
    session = np.full(batch_size, -1, dtype=np.int64)
    session[:rows] = order[:rows]
    nxt = rows
    pos = np.zeros(batch_size, dtype=np.int64)
    end = np.zeros(batch_size, dtype=np.int64)
    active = session >= 0
    pos[active] = sessions.offsets[session[active]]
    end[active] = sessions.offsets[session[active] + 1]
    reset = active.copy()
    items = sessions.items
    while active.any():
        inputs = np.where(active, items[np.minimum(pos, len(items) - 1)], 0)
        targets = np.where(active, items[np.minimum(pos + 1, len(items) - 1)], 0)
        yield SessionBatch(inputs, targets, active.copy(), reset.copy(), np.where(active, session, -1))
        pos += active
        done = np.flatnonzero(active & (pos + 1 >= end))
        reset[:] = False
        for r in done:  # few rows finish per step: a short Python loop
            if nxt < len(order):
                s = order[nxt]
                nxt += 1
                session[r], pos[r], end[r] = s, sessions.offsets[s], sessions.offsets[s + 1]
                reset[r] = True
            else:
                session[r] = -1
                active[r] = False
