"""DataLoader: sampling without replacement, reproducibility, drop_last, exact resumption."""

import numpy as np
import pytest

import thalweg as tw
from thalweg.data import DataLoader, Subset, TensorDataset, random_split


def _ids(loader):
    return [b[0].array.copy() for b in loader]


def test_each_epoch_is_a_fresh_permutation():
    ds = TensorDataset(np.arange(103), np.arange(103) % 7)
    loader = DataLoader(ds, batch_size=10, shuffle=True, seed=0)
    epochs = [np.concatenate(_ids(loader)) for _ in range(3)]
    for e in epochs:
        assert sorted(e.tolist()) == list(range(103))  # every example exactly once
    assert not np.array_equal(epochs[0], epochs[1])   # a new order each epoch
    assert not np.array_equal(epochs[0], np.arange(103))
    assert loader.epoch == 3


def test_batches_keep_fields_aligned_and_types():
    x = np.arange(50, dtype=np.float32).reshape(25, 2)
    y = np.arange(25)
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=3):
        assert isinstance(xb, tw.Tensor) and isinstance(yb, tw.Tensor)
        np.testing.assert_array_equal(xb.array[:, 0], 2 * yb.array)
        assert xb.dtype == np.float32 and yb.dtype == np.int64


def test_same_seed_same_order_different_seed_different_order():
    ds = TensorDataset(np.arange(64))
    a = _ids(DataLoader(ds, batch_size=8, shuffle=True, seed=5))
    b = _ids(DataLoader(ds, batch_size=8, shuffle=True, seed=5))
    c = _ids(DataLoader(ds, batch_size=8, shuffle=True, seed=6))
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c))


def test_default_generator_comes_from_manual_seed():
    ds = TensorDataset(np.arange(30))
    tw.manual_seed(11)
    a = np.concatenate(_ids(DataLoader(ds, batch_size=30, shuffle=True)))
    tw.manual_seed(11)
    b = np.concatenate(_ids(DataLoader(ds, batch_size=30, shuffle=True)))
    np.testing.assert_array_equal(a, b)


def test_drop_last_and_len():
    ds = TensorDataset(np.arange(23))
    keep = DataLoader(ds, batch_size=5, shuffle=True, seed=0)
    drop = DataLoader(ds, batch_size=5, drop_last=True, shuffle=True, seed=0)
    assert len(keep) == 5 and [len(b[0]) for b in keep] == [5, 5, 5, 5, 3]
    assert len(drop) == 4 and [len(b[0]) for b in drop] == [5, 5, 5, 5]
    assert drop.num_examples == 20


def test_no_shuffle_keeps_order():
    ds = TensorDataset(np.arange(10))
    got = np.concatenate(_ids(DataLoader(ds, batch_size=3, shuffle=False)))
    np.testing.assert_array_equal(got, np.arange(10))


def test_vectorised_batching_calls_getitems_once_per_batch():
    class Counting(TensorDataset):
        calls = 0
        single = 0

        def __getitems__(self, idx):
            Counting.calls += 1
            return super().__getitems__(idx)

        def __getitem__(self, i):
            Counting.single += 1
            return super().__getitem__(i)

    loader = DataLoader(Counting(np.zeros((100, 3)), np.zeros(100)), batch_size=32, shuffle=True, seed=0)
    list(loader)
    assert Counting.calls == 4 and Counting.single == 0


def test_per_example_dataset_is_collated():
    class Squares:
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float32), i

    batches = list(DataLoader(Squares(), batch_size=3, shuffle=False))
    assert [b[0].shape for b in batches] == [(3, 2), (3, 2), (1, 2)]
    np.testing.assert_array_equal(batches[1][0].array[:, 1], [9, 16, 25])
    np.testing.assert_array_equal(batches[1][1].array, [3, 4, 5])


def test_state_dict_resumes_mid_epoch_exactly():
    ds = TensorDataset(np.arange(40))
    ref = DataLoader(ds, batch_size=6, shuffle=True, seed=9)
    straight = _ids(ref) + _ids(ref)

    a = DataLoader(ds, batch_size=6, shuffle=True, seed=9)
    it = iter(a)
    first = [next(it)[0].array.copy() for _ in range(3)]
    state = a.state_dict()
    b = DataLoader(ds, batch_size=6, shuffle=True, seed=123)  # a different seed: the state must override it
    b.load_state_dict(state)
    rest = _ids(b) + _ids(b)
    got = first + rest
    assert len(got) == len(straight)
    for u, v in zip(got, straight):
        np.testing.assert_array_equal(u, v)


def test_abandoned_iteration_starts_a_new_epoch():
    ds = TensorDataset(np.arange(20))
    loader = DataLoader(ds, batch_size=5, shuffle=True, seed=0)
    it = iter(loader)
    next(it)
    full = np.concatenate(_ids(loader))
    assert sorted(full.tolist()) == list(range(20))


def test_load_state_dict_checks_sizes():
    a = DataLoader(TensorDataset(np.arange(10)), batch_size=2, shuffle=True, seed=0)
    b = DataLoader(TensorDataset(np.arange(12)), batch_size=2, shuffle=True, seed=0)
    with pytest.raises(ValueError, match="10 examples"):
        b.load_state_dict(a.state_dict())


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(TensorDataset(np.arange(4)), batch_size=bad)


def test_random_split_is_a_seeded_partition():
    ds = TensorDataset(np.arange(100))
    a, b, c = random_split(ds, [60, 30, 10], seed=1)
    ids = np.concatenate([a.indices, b.indices, c.indices])
    assert sorted(ids.tolist()) == list(range(100))
    a2, _, _ = random_split(ds, [60, 30, 10], seed=1)
    np.testing.assert_array_equal(a.indices, a2.indices)
    f1, f2 = random_split(ds, [0.75, 0.25], seed=2)
    assert (len(f1), len(f2)) == (75, 25)
    with pytest.raises(ValueError, match="summing"):
        random_split(ds, [50, 40], seed=0)


def test_subset_batches_through_parent():
    x = np.arange(20) * 10
    sub = Subset(TensorDataset(x, np.arange(20)), [3, 5, 7])
    xb, yb = next(iter(DataLoader(sub, batch_size=3, shuffle=False)))
    np.testing.assert_array_equal(xb.array, [30, 50, 70])
    assert len(sub) == 3 and int(sub[1][1].array) == 5


def test_tensor_dataset_rejects_misaligned_arrays():
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))


def test_collate_fn_and_list_returning_getitems():
    ds = TensorDataset(np.arange(6), np.arange(6) * 2)
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return [int(x.array) + int(y.array) for x, y in samples]

    out = list(DataLoader(ds, batch_size=4, shuffle=False, collate_fn=collate))
    assert out == [[0, 3, 6, 9], [12, 15]] and seen == [4, 2]

    class ListStyle:  # torch's __getitems__ returns a list of examples
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.float32(i), i

        def __getitems__(self, idx):
            return [self[int(i)] for i in idx]

    xb, yb = next(iter(DataLoader(ListStyle(), batch_size=5, shuffle=False)))
    np.testing.assert_array_equal(xb.array, np.arange(5, dtype=np.float32))
