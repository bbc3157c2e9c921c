"""Module: registration, traversal, train/eval, hooks, state dicts, copying."""

import copy
import pickle

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.bn = nn.BatchNorm1d(4)
        self.drop = nn.Dropout(0.5)
        self.scale = nn.Parameter(tw.ones(1))
        self.register_buffer("steps", tw.zeros(1))
        self.register_buffer("cache", tw.zeros(2), persistent=False)

    def forward(self, x):
        return self.drop(self.bn(self.fc(x))) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.block(x))


def test_registration_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["block.scale", "block.fc.weight", "block.fc.bias", "block.bn.weight", "block.bn.bias",
                     "head.weight", "head.bias"]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "block.bn", "block.drop", "head"]
    assert [n for n, _ in net.named_children()] == ["block", "head"]
    assert [n for n, _ in net.named_buffers()] == ["block.steps", "block.cache", "block.bn.running_mean",
                                                   "block.bn.running_var", "block.bn.num_batches_tracked"]
    sd = net.state_dict()
    assert "block.cache" not in sd and "block.steps" in sd  # non-persistent buffers are not saved
    assert net.get_submodule("block.bn") is net.block.bn
    with pytest.raises(AttributeError, match="no submodule 'nope'"):
        net.get_submodule("block.nope")
    assert net.num_parameters() == sum(p.array.size for p in net.parameters())
    assert "fc" in dir(net.block) and "scale" in dir(net.block) and "steps" in dir(net.block)


def test_train_eval_switches_dropout_and_batchnorm_everywhere():
    tw.manual_seed(0)
    net = Net()
    x = tw.randn(16, 4)
    assert all(m.training for m in net.modules())
    net(x)
    assert int(net.block.bn.num_batches_tracked.array) == 1
    net.eval()
    assert not any(m.training for m in net.modules())
    a, b = net(x), net(x)
    np.testing.assert_array_equal(a.array, b.array)  # deterministic: no dropout, running statistics
    assert int(net.block.bn.num_batches_tracked.array) == 1
    net.train()
    assert all(m.training for m in net.modules())
    assert not np.array_equal(net(x).array, net(x).array)


def test_zero_grad_and_apply():
    net = Net()
    net(tw.randn(8, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all((p.grad == 0).all() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "BatchNorm1d", "Dropout", "Block", "Linear", "Net"]  # children first, as torch

    def init_linear(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    net.apply(init_linear)
    assert (net.head.weight.array == 0).all() and (net.block.fc.weight.array == 0).all()


def test_forward_hooks():
    layer = nn.Linear(3, 2)
    calls = []
    h1 = layer.register_forward_pre_hook(lambda m, args: calls.append(("pre", args[0].shape)))
    h2 = layer.register_forward_hook(lambda m, args, out: out * 0)
    out = layer(tw.randn(5, 3))
    assert calls == [("pre", (5, 3))] and (out.array == 0).all()
    h2.remove()
    h1.remove()
    assert (layer(tw.randn(5, 3)).array != 0).any() and len(calls) == 1


def test_deepcopy_and_pickle_keep_values_and_independence():
    net = Net()
    net.eval()
    x = tw.randn(3, 4)
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        np.testing.assert_array_equal(clone(x).array, net(x).array)
        clone.head.weight.array[...] = 0
        assert (net.head.weight.array != 0).any()
        assert isinstance(clone.head.weight, nn.Parameter) and clone.head.weight.requires_grad


def test_state_dict_options_and_round_trip():
    net = Net()
    sd = net.state_dict()
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    kept = net.state_dict(keep_vars=True)
    assert kept["head.weight"] is net.head.weight
    other = Net()
    result = other.load_state_dict({k: v.copy() for k, v in sd.items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])
    assert other.state_dict(prefix="model.").keys() == {f"model.{k}" for k in sd}


def test_assigning_wrong_types_is_an_error():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign"):
        layer.weight = tw.zeros(2, 2)

    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super"):
        Bad()


def test_double_and_float_cast_parameters_and_buffers():
    net = Net().double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.block.bn.running_mean.dtype == np.float64
    assert net.block.bn.num_batches_tracked.dtype == np.int64
    assert net(tw.randn(4, 4, dtype=tw.float64)).dtype == np.float64
    assert all(p.dtype == np.float32 for p in net.float().parameters())
