"""Samplers and the DataLoader's torch front: semantics, lengths, distributions and torch's errors."""

from collections import Counter, OrderedDict, namedtuple

import numpy as np
import pytest

import thalweg as tw
from thalweg.data import (BatchSampler, DataLoader, IterableDataset, RandomSampler, Sampler, SequentialSampler,
                          SubsetRandomSampler, TensorDataset, WeightedRandomSampler, default_collate, random_split)

torch = pytest.importorskip("torch")
tdata = torch.utils.data


def test_sequential_and_batch_sampler_match_torch_exactly():
    for n, bs, drop in [(10, 3, False), (10, 3, True), (9, 3, False), (1, 4, False), (2, 4, True)]:
        ours = list(BatchSampler(SequentialSampler(range(n)), bs, drop))
        ref = list(tdata.BatchSampler(tdata.SequentialSampler(range(n)), bs, drop))
        assert ours == ref and len(BatchSampler(SequentialSampler(range(n)), bs, drop)) == len(ref)
    assert list(BatchSampler([4, 1, 3], 2, False)) == [[4, 1], [3]]  # any iterable of indices


@pytest.mark.parametrize("n,num_samples", [(10, None), (10, 25), (10, 4), (7, 7)])
def test_random_sampler_without_replacement_semantics(n, num_samples):
    s = RandomSampler(range(n), num_samples=num_samples, generator=np.random.default_rng(0))
    ref = tdata.RandomSampler(range(n), num_samples=num_samples)
    got = list(s)
    assert len(got) == len(s) == len(ref) == len(list(ref))
    k = len(got)
    counts = Counter(got)
    # whole permutations, the last one cut: each index k // n or k // n + 1 times
    assert set(counts.values()) <= {k // n, k // n + 1} and all(0 <= i < n for i in got)
    for start in range(0, k - k % n, n):
        assert sorted(got[start:start + n]) == list(range(n))


def test_random_sampler_with_replacement_is_uniform():
    s = RandomSampler(range(5), replacement=True, num_samples=20000, generator=np.random.default_rng(1))
    got = np.array(list(s))
    assert len(got) == 20000 and got.min() >= 0 and got.max() <= 4
    freq = np.bincount(got, minlength=5) / got.size
    np.testing.assert_allclose(freq, 0.2, atol=0.02)


def test_random_sampler_new_order_each_pass_and_manual_seed():
    s = RandomSampler(range(50))
    tw.manual_seed(3)
    a, b = list(s), list(s)
    assert a != b
    tw.manual_seed(3)
    assert list(s) == a


def test_subset_random_sampler():
    idx = [10, 20, 30, 40]
    s = SubsetRandomSampler(idx, generator=np.random.default_rng(0))
    assert sorted(s) == idx and len(s) == 4 and s.indices == idx


def test_weighted_random_sampler_distribution_and_no_replacement():
    w = [0.0, 1.0, 3.0]
    s = WeightedRandomSampler(w, 30000, generator=np.random.default_rng(0))
    got = np.array(list(s))
    assert len(s) == 30000 and not np.any(got == 0)
    np.testing.assert_allclose(np.mean(got == 2), 0.75, atol=0.02)
    distinct = list(WeightedRandomSampler([1, 2, 3, 4], 4, replacement=False))
    assert sorted(distinct) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="1d"):
        WeightedRandomSampler([[1.0, 2.0]], 2)
    with pytest.raises(ValueError, match="without"):
        WeightedRandomSampler([1.0, 0.0], 2, replacement=False)


@pytest.mark.parametrize("make", [
    lambda m: m.RandomSampler(range(3), replacement=1),
    lambda m: m.RandomSampler(range(3), num_samples=0),
    lambda m: m.BatchSampler(range(3), 0, False),
    lambda m: m.BatchSampler(range(3), True, False),
    lambda m: m.BatchSampler(range(3), 2, 1),
    lambda m: m.WeightedRandomSampler([1.0], 0),
    lambda m: m.WeightedRandomSampler([1.0], 1, replacement=0),
])
def test_sampler_errors_match_torch_types(make):
    import thalweg.data as ours
    with pytest.raises(Exception) as ref:
        make(tdata)
    with pytest.raises(type(ref.value)):
        make(ours)


@pytest.mark.parametrize("kwargs", [
    dict(sampler=[0, 1], shuffle=True),
    dict(batch_sampler=[[0, 1]], batch_size=2),
    dict(batch_sampler=[[0, 1]], shuffle=True),
    dict(batch_sampler=[[0, 1]], sampler=[0, 1]),
    dict(batch_sampler=[[0, 1]], drop_last=True),
    dict(batch_size=None, drop_last=True),
    dict(num_workers=-1),
    dict(timeout=-1),
    dict(prefetch_factor=2),
    dict(persistent_workers=True),
])
def test_dataloader_mutual_exclusion_errors_as_torch(kwargs):
    data = np.arange(4, dtype=np.float32)
    with pytest.raises(ValueError) as ref:
        tdata.DataLoader(tdata.TensorDataset(torch.from_numpy(data)), **kwargs)
    with pytest.raises(ValueError) as ours:
        DataLoader(TensorDataset(data), **kwargs)
    assert str(ours.value) == str(ref.value)


def test_dataloader_default_is_sequential_and_batches_like_torch():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    y = np.arange(5)
    ours = list(DataLoader(TensorDataset(x, y), batch_size=2))
    ref = list(tdata.DataLoader(tdata.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=2))
    assert len(ours) == len(ref) == 3
    for (xb, yb), (tx, ty) in zip(ours, ref):
        np.testing.assert_array_equal(xb.array, tx.numpy())
        np.testing.assert_array_equal(yb.array, ty.numpy())
    assert isinstance(ours[0], list)


def test_dataloader_sampler_batch_sampler_and_no_autobatch():
    ds = TensorDataset(np.arange(10))
    got = [b[0].array.tolist() for b in DataLoader(ds, batch_size=3, sampler=[9, 8, 7, 6])]
    assert got == [[9, 8, 7], [6]]
    got = [b[0].array.tolist() for b in DataLoader(ds, batch_sampler=[[1, 2], [5]])]
    assert got == [[1, 2], [5]]
    single = list(DataLoader(ds, batch_size=None))
    assert len(single) == 10 and single[3][0].shape == ()
    weighted = DataLoader(ds, batch_size=4, sampler=WeightedRandomSampler(np.ones(10), 8))
    assert len(weighted) == 2 and sum(len(b[0]) for b in weighted) == 8


def test_dataloader_generator_and_resume_with_custom_batches():
    ds = TensorDataset(np.arange(30))
    bs = BatchSampler(RandomSampler(ds, generator=np.random.default_rng(4)), 7, False)
    a = DataLoader(ds, batch_sampler=bs)
    it = iter(a)
    first = [next(it)[0].array.tolist() for _ in range(2)]
    b = DataLoader(ds, batch_sampler=[[0]])
    b.batch_sampler = bs
    b.load_state_dict(a.state_dict())
    rest = [x[0].array.tolist() for x in b]
    assert sorted(sum(first + rest, [])) == list(range(30)) and [len(r) for r in rest] == [7, 7, 2]
    g1 = [b[0].array.tolist() for b in DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(2))]
    g2 = [b[0].array.tolist() for b in DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(2))]
    assert g1 == g2


def test_default_collate_as_torch():
    Point = namedtuple("Point", "x y")
    batch = [{"a": 1.5, "b": (1, True), "s": "u", "p": Point(np.float32(1), 2)},
             {"a": 2.5, "b": (2, False), "s": "v", "p": Point(np.float32(3), 4)}]
    ours = default_collate(batch)
    ref = tdata.default_collate(batch)
    assert ours["a"].dtype == np.float64 and str(ref["a"].dtype) == "torch.float64"
    assert isinstance(ours["b"], list) and ours["b"][0].dtype == np.int64 and ours["b"][1].dtype == np.bool_
    assert ours["s"] == ref["s"] == ["u", "v"]
    assert isinstance(ours["p"], Point) and ours["p"].x.dtype == np.float32
    od = default_collate([OrderedDict(k=np.ones(2)), OrderedDict(k=np.zeros(2))])
    assert isinstance(od, OrderedDict) and od["k"].shape == (2, 2)
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError):
        default_collate([object(), object()])


def test_iterable_dataset_batches_and_rejects_shuffle():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(np.arange(7, dtype=np.float32))

    got = [b.array.tolist() for b in DataLoader(Stream(), batch_size=3)]
    assert got == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.array.tolist() for b in DataLoader(Stream(), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(), shuffle=True)


def test_num_workers_runs_in_process_with_one_warning():
    seen = []
    loader = DataLoader(TensorDataset(np.arange(4)), batch_size=2, num_workers=2, worker_init_fn=seen.append)
    with pytest.warns(UserWarning, match="in-process"):
        out = list(loader)
    assert len(out) == 2 and seen == [0]


def test_random_split_fractions_and_generator_positional():
    ds = TensorDataset(np.arange(10))
    parts = random_split(ds, [0.5, 0.3, 0.2], np.random.default_rng(0))
    assert [len(p) for p in parts] == [len(p) for p in tdata.random_split(range(10), [0.5, 0.3, 0.2])]
    parts = random_split(ds, [0.34, 0.33, 0.33], np.random.default_rng(0))
    assert [len(p) for p in parts] == [len(p) for p in tdata.random_split(range(10), [0.34, 0.33, 0.33])]


def test_sampler_base_and_dataset_add():
    class Evens(Sampler):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(0, self.n, 2))

        def __len__(self):
            return (self.n + 1) // 2

    ds = TensorDataset(np.arange(6))
    assert [b[0].array.tolist() for b in DataLoader(ds, batch_size=2, sampler=Evens(6))] == [[0, 2], [4]]
    both = ds + TensorDataset(np.arange(6, 9))
    assert len(both) == 9 and int(both[7][0].array) == 7


def test_tw_generator_objects_drive_the_order():
    ds = TensorDataset(np.arange(20))

    def order():
        g = tw.Generator()
        g.manual_seed(5)
        loader = DataLoader(ds, batch_size=4, shuffle=True, generator=g)
        g.manual_seed(6)  # reseeding after construction takes effect, as in torch
        return [b[0].array.tolist() for b in loader], list(RandomSampler(range(6), generator=g))

    assert order() == order()


def test_an_endless_random_sampler_with_replacement_is_drawn_batch_by_batch() -> None:
    """makemore and minGPT pass num_samples=int(1e10): the loader must stream, not allocate 80 GB."""
    from thalweg.data import DataLoader, RandomSampler, TensorDataset

    ds = TensorDataset(tw.arange(10))
    loader = DataLoader(ds, sampler=RandomSampler(ds, replacement=True, num_samples=int(1e10)), batch_size=4)
    assert len(loader) == 2_500_000_000
    it = iter(loader)
    batches = [next(it)[0] for _ in range(50)]
    values = np.concatenate([b.numpy() for b in batches])
    assert values.shape == (200,) and values.min() >= 0 and values.max() <= 9
    assert len(np.unique(values)) == 10  # draws with replacement cover the small dataset
    with pytest.raises(RuntimeError, match="streamed pass"):
        loader.state_dict()
