"""Scenarios run under ``mpiexec -n P python ddp_mpi_scenarios.py NAME ...`` by ``test_distributed_mpi.py``.

Each scenario asserts on every rank and prints ``PASS NAME`` on rank 0; any
failure raises, which (through ``init_process_group``'s abort-on-error hook)
ends the whole job with a non-zero status.
"""

from __future__ import annotations

import sys

import numpy as np

import thalweg as tw
import thalweg.distributed as dist
from thalweg import nn, optim
from thalweg.nn.parallel import DistributedDataParallel as DDP


def _grad(p):
    g = p.grad
    return None if g is None else (g.array if hasattr(g, "array") else g)


def _mlp(seed: int, extra: bool = False) -> nn.Module:
    tw.manual_seed(seed)
    layers = [nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4)]
    return nn.Sequential(*layers).double()


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 6)), rng.integers(0, 4, n)


def _shards(n: int, world: int) -> list[np.ndarray]:
    return np.array_split(np.arange(n), world)  # uneven when world does not divide n


def _identical_across_ranks(arrays: list[np.ndarray]) -> bool:
    """Every rank holds bit-identical arrays (gathered as raw bytes and compared on all ranks)."""
    flat = np.concatenate([a.reshape(-1) for a in arrays]).view(np.uint8)
    out = np.empty((dist.get_world_size(),) + flat.shape, dtype=np.uint8)
    dist.all_gather_into_tensor(out.reshape(-1), flat)
    return all(np.array_equal(out[0], out[r]) for r in range(len(out)))


# ---------------------------------------------------------------- scenarios
def collectives(rank: int, world: int) -> None:
    """all_reduce / reduce / broadcast / all_gather agree with NumPy's reductions of all ranks' arrays."""
    def value(r: int, dtype: str) -> np.ndarray:
        rng = np.random.default_rng(100 + r)
        if dtype.startswith("int"):
            return rng.integers(-5, 6, (3, 4)).astype(dtype)
        return rng.uniform(0.5, 1.5, (3, 4)).astype(dtype)

    numpy_ops = {dist.ReduceOp.SUM: np.sum, dist.ReduceOp.PRODUCT: np.prod, dist.ReduceOp.MIN: np.min,
                 dist.ReduceOp.MAX: np.max, dist.ReduceOp.AVG: np.mean}
    for dtype in ("float64", "float32", "int64", "int32", "float16"):
        every = np.stack([value(r, dtype) for r in range(world)])
        for op, ref_fn in numpy_ops.items():
            if op is dist.ReduceOp.AVG and dtype.startswith("int"):
                continue
            t = tw.tensor(value(rank, dtype))
            dist.all_reduce(t, op=op)
            ref = ref_fn(every.astype(np.float64) if dtype == "float16" else every, axis=0).astype(dtype)
            tol = 1e-3 if dtype == "float16" else (1e-6 if dtype == "float32" else 1e-12)
            assert t.array.dtype == np.dtype(dtype)
            np.testing.assert_allclose(t.array, ref, rtol=tol, err_msg=f"all_reduce {op} {dtype}")
        t = tw.tensor(value(rank, dtype))
        dist.reduce(t, dst=world - 1, op=dist.ReduceOp.SUM)
        if rank == world - 1:
            np.testing.assert_allclose(t.array, every.sum(axis=0).astype(dtype), rtol=1e-3)
        else:
            np.testing.assert_array_equal(t.array, value(rank, dtype))
    t = tw.tensor(np.full(5, float(rank)))
    work = dist.all_reduce(t, op="sum", async_op=True)
    work.wait()
    assert np.all(t.array == sum(range(world)))
    t = tw.tensor(np.full((2, 3), rank, dtype=np.int64))
    dist.broadcast(t, src=world - 1)
    assert np.all(t.array == world - 1)
    mine = tw.tensor(np.arange(4.0) + 10 * rank)
    outs = [tw.zeros(4).double() for _ in range(world)]
    dist.all_gather(outs, mine)
    for r, o in enumerate(outs):
        np.testing.assert_array_equal(o.array, np.arange(4.0) + 10 * r)
    big = tw.tensor(np.zeros((4 * world,)))
    dist.all_gather_into_tensor(big, mine)
    np.testing.assert_array_equal(big.array, np.concatenate([np.arange(4.0) + 10 * r for r in range(world)]))
    flags = tw.tensor(np.array([rank == 0, False]))
    dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    assert flags.array.tolist() == [True, False]
    dist.barrier()


def ddp_matches_single_process(rank: int, world: int) -> None:
    """DDP on shards (even or uneven) follows one process on the whole batch to 1e-10; ranks stay identical."""
    N, steps = 10, 6  # 10 examples: uneven shards on 3 ranks
    X, Y = _data(N)
    ref = _mlp(100)
    ref_opt = optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    model = DDP(_mlp(100 + rank), bucket_cap_mb=0.001)  # different init per rank: DDP broadcasts rank 0's
    assert len(model.reducer.buckets) > 1
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    idx = _shards(N, world)[rank]
    for step in range(steps):
        ref_opt.zero_grad()
        nn.functional.cross_entropy(ref(tw.tensor(X)), tw.tensor(Y)).backward()
        ref_opt.step()
        opt.zero_grad()
        # the local sum times world / N: DDP's average over ranks is then the whole batch's mean loss
        local = nn.functional.cross_entropy(model(tw.tensor(X[idx])), tw.tensor(Y[idx]), reduction="sum")
        (local * (world / N)).backward()
        opt.step()
    for (name, p), q in zip(model.module.named_parameters(), ref.parameters()):
        diff = float(np.max(np.abs(p.array - q.array)))
        assert diff < 1e-10, f"{name}: DDP differs from one process by {diff}"
    assert _identical_across_ranks([p.array for p in model.parameters()]), "replicas differ"
    assert list(model.state_dict())[0].startswith("module.")


def ddp_no_sync(rank: int, world: int) -> None:
    """Two micro-batches, the first under no_sync(): the gradient is that of both, averaged over ranks."""
    X, Y = _data(8 * world, seed=1)
    ref = _mlp(7)
    for half in (0, 1):  # one process: the mean loss of each whole micro-batch, gradients accumulated
        sel = np.arange(8 * world).reshape(2, -1)[half]
        nn.functional.cross_entropy(ref(tw.tensor(X[sel])), tw.tensor(Y[sel])).backward()
    model = DDP(_mlp(7))
    for half in (0, 1):
        sel = np.arange(8 * world).reshape(2, world, -1)[half, rank]
        if half == 0:
            with model.no_sync():
                nn.functional.cross_entropy(model(tw.tensor(X[sel])), tw.tensor(Y[sel])).backward()
            assert model.reducer.stats["iterations"] == 0, "no_sync() communicated"
        else:
            nn.functional.cross_entropy(model(tw.tensor(X[sel])), tw.tensor(Y[sel])).backward()
    assert model.reducer.stats["iterations"] == 1
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(_grad(p), _grad(q), rtol=0, atol=1e-12)


class _TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        tw.manual_seed(3)
        self.body = nn.Linear(6, 8).double()
        self.used = nn.Linear(8, 4).double()
        self.unused = nn.Linear(8, 4).double()
        self.sometimes = nn.Linear(8, 4).double()

    def forward(self, x: tw.Tensor, use_sometimes: bool = False) -> tw.Tensor:
        h = self.body(x).tanh()
        out = self.used(h)
        return out + self.sometimes(h) if use_sometimes else out


def ddp_unused_parameters(rank: int, world: int) -> None:
    """Without find_unused_parameters the next forward names the missing parameters; with it, training works."""
    X, Y = _data(4 * world, seed=2)
    x, y = tw.tensor(X[rank::world]), tw.tensor(Y[rank::world])
    model = DDP(_TwoHeads())
    nn.functional.cross_entropy(model(x), y).backward()
    try:
        model(x)
    except RuntimeError as e:
        assert "find_unused_parameters=True" in str(e) and "unused.weight" in str(e), str(e)
    else:
        raise AssertionError("an unused parameter went unnoticed")
    model = DDP(_TwoHeads(), find_unused_parameters=True)
    use = rank == 0  # 'sometimes' is used on rank 0 only
    nn.functional.cross_entropy(model(x, use_sometimes=use), y).backward()
    m = model.module
    assert m.unused.weight.grad is None, "a parameter no rank used must keep grad None"
    sometimes = _grad(m.sometimes.weight)
    assert sometimes is not None and np.abs(sometimes).sum() > 0
    assert _identical_across_ranks([_grad(p) for p in (m.body.weight, m.used.weight, m.sometimes.weight)])
    nn.functional.cross_entropy(model(x), y).backward()  # a second iteration works


def sync_batchnorm(rank: int, world: int) -> None:
    """SyncBatchNorm on shards = BatchNorm on the whole batch: outputs, gradients, running statistics."""
    def net(seed: int) -> nn.Module:
        tw.manual_seed(seed)
        return nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                             nn.Linear(3 * 4 * 4, 3)).double()

    N = 4 * world
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((N, 2, 6, 6)) * 3 + 1, rng.integers(0, 3, N)
    ref = net(11)
    ref_out = ref(tw.tensor(X))
    nn.functional.cross_entropy(ref_out, tw.tensor(Y)).backward()
    model = DDP(nn.SyncBatchNorm.convert_sync_batchnorm(net(11)))
    assert isinstance(model.module[1], nn.SyncBatchNorm)
    idx = np.arange(N).reshape(world, -1)[rank]
    out = model(tw.tensor(X[idx]))
    nn.functional.cross_entropy(out, tw.tensor(Y[idx])).backward()
    np.testing.assert_allclose(out.array, ref_out.array[idx], rtol=0, atol=1e-10)
    for p, q in zip(model.module.parameters(), ref.parameters()):
        np.testing.assert_allclose(_grad(p), _grad(q), rtol=0, atol=1e-10)
    for a, b in zip(model.module[1].buffers(), ref[1].buffers()):
        np.testing.assert_allclose(a.array, b.array, rtol=0, atol=1e-12)


def trainer_fit(rank: int, world: int) -> None:
    """``fit`` unchanged under mpiexec: weights saved by rank 0 are compared by the test with one process."""
    import json
    from pathlib import Path

    out = Path(sys.argv[sys.argv.index("--out") + 1])
    epochs = int(sys.argv[sys.argv.index("--epochs") + 1])
    resume = "--resume" in sys.argv
    from ddp_fit_case import fit_setup  # beside this file

    model, opt, train, dev, kw = fit_setup()
    result = tw.train.fit(model, opt, train, dev, epochs=epochs, run_dir=out / "run",
                          resume=(out / "run") if resume else None,
                          callbacks=[tw.train.ModelCheckpoint(every_n_epochs=1)], **kw)
    assert dist.is_initialized() and dist.get_world_size() == world
    assert _identical_across_ranks([p.array for p in model.parameters()])
    if rank == 0:
        np.savez(out / f"weights-{epochs}.npz", *[p.array for p in model.parameters()])
        (out / f"history-{epochs}.json").write_text(json.dumps(result.history, default=float))


def failing_rank(rank: int, world: int) -> None:
    """The last rank raises; the others wait in a collective: the job must end non-zero, with the error."""
    if rank == world - 1:
        raise ValueError(f"rank {rank} fails on purpose")
    dist.all_reduce(tw.tensor(np.ones(3)))


SCENARIOS = {f.__name__: f for f in (collectives, ddp_matches_single_process, ddp_no_sync, ddp_unused_parameters,
                                     sync_batchnorm, trainer_fit, failing_rank)}


def main() -> None:
    names = [a for a in sys.argv[1:] if a in SCENARIOS]
    if names != ["trainer_fit"]:  # fit joins the process group by itself
        dist.init_process_group("mpi")
    for name in names:
        SCENARIOS[name](dist.launched_rank(), dist.launched_world_size())
        if dist.launched_rank() == 0:
            print(f"PASS {name}", flush=True)


if __name__ == "__main__":
    main()
