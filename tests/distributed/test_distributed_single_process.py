"""``thalweg.distributed`` without MPI: the ``self`` backend, errors, SyncBatchNorm's fallback, bucketing."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import thalweg as tw
import thalweg.distributed as dist
from thalweg import nn, optim
from thalweg.nn.parallel import DistributedDataParallel as DDP
from thalweg.nn.parallel.reducer import assign_buckets


@pytest.fixture
def self_group():
    dist.init_process_group("self")
    yield
    dist.destroy_process_group()


def test_import_does_not_load_mpi() -> None:
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "import thalweg, thalweg.distributed, thalweg.nn.parallel, thalweg.train\n"
            "from thalweg.data import DistributedSampler\n"
            "try:\n    thalweg.distributed.init_process_group('mpi')\n"
            "except RuntimeError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install 'thalweg[mpi]'" in out.stdout


def test_self_backend_collectives(self_group) -> None:
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    assert dist.get_backend() == "self"
    t = tw.tensor(np.arange(4.0))
    for op in dist.ReduceOp:
        dist.all_reduce(t, op=op)
    np.testing.assert_array_equal(t.array, np.arange(4.0))
    dist.broadcast(t, src=0)
    outs = [tw.zeros(4).double()]
    dist.all_gather(outs, t)
    np.testing.assert_array_equal(outs[0].array, t.array)
    big = tw.zeros(4).double()
    dist.all_gather_into_tensor(big, t)
    np.testing.assert_array_equal(big.array, t.array)
    dist.all_reduce(t, async_op=True).wait()
    dist.barrier()
    with pytest.raises(ValueError, match="src=1"):
        dist.broadcast(t, src=1)
    with pytest.raises(RuntimeError, match="twice"):
        dist.init_process_group("self")


def test_errors_without_a_group() -> None:
    assert not dist.is_initialized() and dist.get_rank() == -1 and dist.get_world_size() == -1
    with pytest.raises(RuntimeError, match="Default process group has not been initialized"):
        dist.all_reduce(tw.tensor([1.0]))
    with pytest.raises(RuntimeError, match="Default process group has not been initialized"):
        DDP(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="use backend='mpi'"):
        dist.init_process_group("nccl")


def test_launcher_environment(monkeypatch) -> None:
    monkeypatch.setenv("PMI_RANK", "3")
    monkeypatch.setenv("PMI_SIZE", "4")
    assert dist.launched_rank() == 3 and dist.launched_world_size() == 4
    monkeypatch.delenv("PMI_RANK")
    monkeypatch.delenv("PMI_SIZE")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "1")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    assert dist.launched_rank() == 1 and dist.launched_world_size() == 2


def test_ddp_on_one_process_is_plain_training(self_group) -> None:
    def run(wrap: bool) -> list[np.ndarray]:
        tw.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
        model = DDP(net) if wrap else net
        opt = optim.SGD(model.parameters(), lr=0.1)
        rng = np.random.default_rng(0)
        for _ in range(3):
            opt.zero_grad()
            x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
            nn.functional.cross_entropy(model(tw.tensor(x)), tw.tensor(y)).backward()
            opt.step()
        return [p.array.copy() for p in net.parameters()]

    for a, b in zip(run(True), run(False)):
        np.testing.assert_array_equal(a, b)
    model = DDP(nn.Linear(2, 2))
    assert isinstance(model.module, nn.Linear)
    assert list(model.state_dict()) == ["module.weight", "module.bias"]


def test_buckets_in_reverse_order_under_the_cap() -> None:
    params = [nn.Parameter(np.zeros(n)) for n in (100, 200, 50, 300, 10)]
    buckets = assign_buckets(params[::-1], cap_bytes=400 * 8)
    assert [len(b) for b in buckets] == [3, 2]  # 10+300+50 <= 400 < 10+300+50+200; then 200+100
    assert buckets[0][0] is params[-1]
    mixed = [nn.Parameter(np.zeros(3, dtype=np.float32)), nn.Parameter(np.zeros(3))]
    assert len(assign_buckets(mixed, cap_bytes=10**6)) == 2, "one dtype per bucket"


def test_sync_batchnorm_without_a_group_is_batchnorm() -> None:
    tw.manual_seed(0)
    bn = nn.BatchNorm2d(3).double()
    net = nn.Sequential(nn.Conv2d(2, 3, 3), bn).double()
    x = tw.tensor(np.random.default_rng(0).standard_normal((4, 2, 5, 5)))
    ref = net(x).array.copy()
    net[1].running_mean.array[...] = 0
    net[1].running_var.array[...] = 1
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert isinstance(converted[1], nn.SyncBatchNorm) and converted[1].weight is bn.weight
    np.testing.assert_allclose(converted(x).array, ref, atol=1e-12)
    assert set(converted.state_dict()) == {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                           "1.running_var", "1.num_batches_tracked"}


def test_sync_batchnorm_function_gradcheck(self_group) -> None:
    """SyncBatchNormFunction on a group of one: central differences agree with its backward."""
    from thalweg.autograd.gradcheck import gradcheck
    from thalweg.distributed.process_group import default_group
    from thalweg.nn.sync_batchnorm import SyncBatchNormFunction

    rng = np.random.default_rng(1)
    x = tw.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    w = tw.tensor(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    b = tw.tensor(rng.standard_normal(3), requires_grad=True)
    g = default_group()
    assert gradcheck(lambda x, w, b: SyncBatchNormFunction.apply(x, w, b, group=g), (x, w, b))


def test_nproc_without_mpi4py_is_a_one_line_error() -> None:
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "from thalweg.cli import main\n"
            "sys.exit(main(['train', '--nproc', '2', '--epochs', '1']))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.startswith("thalweg: error:") and "pip install 'thalweg[mpi]'" in out.stderr
