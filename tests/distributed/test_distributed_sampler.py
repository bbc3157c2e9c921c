"""``DistributedSampler``: torch's shards, disjoint and covering the epoch (no MPI needed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import thalweg as tw
from thalweg.data import DataLoader, DistributedSampler, TensorDataset


def _shards(n: int, p: int, **kw) -> list[np.ndarray]:
    data = list(range(n))
    return [DistributedSampler(data, num_replicas=p, rank=r, **kw).indices() for r in range(p)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 200), p=st.integers(1, 8), shuffle=st.booleans(), drop_last=st.booleans(),
       seed=st.integers(0, 2**31), epoch=st.integers(0, 5))
def test_shards_are_disjoint_and_cover_the_epoch(n, p, shuffle, drop_last, seed, epoch) -> None:
    data = list(range(n))
    samplers = [DistributedSampler(data, num_replicas=p, rank=r, shuffle=shuffle, seed=seed, drop_last=drop_last)
                for r in range(p)]
    for s in samplers:
        s.set_epoch(epoch)
    shards = [s.indices() for s in samplers]
    sizes = {len(x) for x in shards}
    assert sizes == {len(samplers[0])}, "every rank gets the same number of indices"
    everything = np.concatenate(shards)
    if drop_last:
        assert len(everything) == (n // p) * p
        assert len(set(everything.tolist())) == len(everything), "no example twice when dropping the tail"
    else:
        assert set(everything.tolist()) == set(range(n)), "together the shards cover the epoch"
        assert len(everything) == -(-n // p) * p
        assert len(everything) - len(set(everything.tolist())) == len(everything) - n, "only the padding repeats"


def test_matches_torch_without_shuffle() -> None:
    torch_data = pytest.importorskip("torch.utils.data")
    for n in (1, 7, 10, 12, 13):
        for p in (1, 2, 3, 5, 16):
            for drop_last in (False, True):
                if drop_last and n < p:
                    continue
                data = list(range(n))
                for r in range(p):
                    ours = list(DistributedSampler(data, p, r, shuffle=False, drop_last=drop_last))
                    theirs = list(torch_data.DistributedSampler(data, p, r, shuffle=False, drop_last=drop_last))
                    assert ours == theirs, (n, p, r, drop_last)
                    assert len(DistributedSampler(data, p, r, drop_last=drop_last)) == \
                        len(torch_data.DistributedSampler(data, p, r, drop_last=drop_last))


def test_set_epoch_reshuffles_and_ranks_agree() -> None:
    a0 = _shards(50, 2, seed=3)
    again = _shards(50, 2, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a0, again)), "same seed and epoch: same shards"
    s = DistributedSampler(list(range(50)), num_replicas=2, rank=0, seed=3)
    s.set_epoch(1)
    assert not np.array_equal(s.indices(), a0[0])


def test_errors_and_defaults() -> None:
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(list(range(4)), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(list(range(4)), num_replicas=0, rank=0)
    s = DistributedSampler(list(range(5)))  # no process group, no launcher: a group of one
    assert (s.num_replicas, s.rank, len(s)) == (1, 0, 5)


def test_with_the_data_loader() -> None:
    ds = TensorDataset(np.arange(10.0)[:, None], np.arange(10))
    seen = []
    for r in range(3):
        loader = DataLoader(ds, batch_size=2, sampler=DistributedSampler(ds, num_replicas=3, rank=r, seed=1))
        for _, y in loader:
            seen += np.asarray(y.array if isinstance(y, tw.Tensor) else y).tolist()
    assert sorted(set(seen)) == list(range(10)) and len(seen) == 12
