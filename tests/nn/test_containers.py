"""Sequential, ModuleList, ModuleDict: registration, indexing, state dicts and reprs as in torch."""

from collections import OrderedDict

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn

from core_helpers import assert_close, backward_both


def _pair_models(torch):
    ours = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 3),
                         nn.LogSoftmax(dim=1))
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                                 torch.nn.Dropout(0.1), torch.nn.Linear(8, 3), torch.nn.LogSoftmax(dim=1))
    return ours, theirs


def test_sequential_state_dict_keys_shapes_and_repr_match_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _pair_models(torch)
    sd, sd_t = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(sd_t)
    for k in sd:
        assert tuple(sd[k].shape) == tuple(sd_t[k].shape), k
        assert str(sd[k].dtype) == str(sd_t[k].dtype).replace("torch.", ""), k
    assert repr(ours) == repr(theirs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_sequential_with_torch_weights_gives_torch_outputs_and_gradients():
    torch = pytest.importorskip("torch")
    ours, theirs = _pair_models(torch)
    ours.load_state_dict(theirs.state_dict())
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    out, out_t = ours(tw.tensor(x)), theirs(torch.tensor(x))
    assert_close(out, out_t, np.float32, "eval output")
    backward_both(torch, out, out_t)
    for (name, p), (_, p_t) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, p_t.grad, np.float32, name)
    # and the state dict goes back to torch unchanged
    theirs2 = _pair_models(torch)[1]
    theirs2.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
    theirs2.eval()
    assert_close(out, theirs2(torch.tensor(x)), np.float32, "round trip")


def test_load_state_dict_lists_wrong_keys_and_shapes():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    sd = {k: v.copy() for k, v in model.state_dict().items()}
    sd["2.weight"] = np.zeros((3, 4), dtype=np.float32)
    sd["extra.bias"] = np.zeros(2, dtype=np.float32)
    del sd["0.bias"]
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(sd)
    msg = str(info.value)
    assert "Sequential" in msg
    assert "2.weight: expected (2, 4), got (3, 4)" in msg
    assert "missing keys: 0.bias" in msg
    assert "unexpected keys: extra.bias" in msg
    # non-strict still refuses a shape mismatch, but reports missing and unexpected keys
    del sd["2.weight"]
    result = model.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["0.bias", "2.weight"] and result.unexpected_keys == ["extra.bias"]


def test_sequential_indexing_slicing_and_editing():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b] and list(head.state_dict()) == ["0.weight",
                                                                                                    "0.bias"]
    assert list(seq[1:]._modules) == ["1", "2"]  # slices keep the names, as torch
    x = tw.randn(4, 2)
    np.testing.assert_allclose(seq(x).array, c(b(a(x))).array)
    d = nn.Tanh()
    seq.append(d)
    assert len(seq) == 4 and seq[3] is d
    seq.insert(1, nn.Identity())
    assert isinstance(seq[1], nn.Identity) and seq[2] is b and list(seq._modules) == ["0", "1", "2", "3", "4"]
    del seq[1]
    assert list(seq) == [a, b, c, d] and list(seq._modules) == ["0", "1", "2", "3"]
    seq[3] = nn.Sigmoid()
    assert isinstance(seq[3], nn.Sigmoid)
    with pytest.raises(IndexError, match="out of range"):
        seq[7]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), "relu")
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and named.fc is named[0]


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.Linear(2, 1))
    layers.extend([nn.ReLU()])
    layers += [nn.Tanh()]
    assert len(layers) == 6 and isinstance(layers[-1], nn.Tanh)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    layers.insert(0, nn.Identity())
    assert isinstance(layers[0], nn.Identity) and list(layers._modules) == [str(i) for i in range(7)]
    del layers[0]
    assert list(layers.state_dict())[:2] == ["0.weight", "0.bias"]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3)])

        def forward(self, x):
            for block in self.blocks:
                x = block(x).relu()
            return x

    net = Net()
    assert list(net.state_dict()) == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias"]
    assert net(tw.randn(2, 3)).shape == (2, 3)
    with pytest.raises(NotImplementedError):
        net.blocks(tw.randn(2, 3))


def test_module_dict():
    heads = nn.ModuleDict({"policy": nn.Linear(4, 2), "value": nn.Linear(4, 1)})
    assert len(heads) == 2 and "policy" in heads and list(heads) == ["policy", "value"]
    assert list(heads.state_dict()) == ["policy.weight", "policy.bias", "value.weight", "value.bias"]
    heads["aux"] = nn.Linear(4, 3)
    assert list(heads.keys()) == ["policy", "value", "aux"]
    assert heads.pop("aux").out_features == 3 and "aux" not in heads
    heads.update([("extra", nn.ReLU())])
    assert [k for k, _ in heads.items()] == ["policy", "value", "extra"]
    with pytest.raises(KeyError, match="no module 'missing'"):
        heads["missing"]
    with pytest.raises(KeyError):
        heads["a.b"] = nn.ReLU()
    heads.clear()
    assert len(heads) == 0


def test_nested_repr_matches_torch():
    torch = pytest.importorskip("torch")

    def build(mod):
        return mod.Sequential(
            mod.Sequential(mod.Flatten(), mod.Linear(12, 6)),
            mod.ModuleList([mod.ReLU(), mod.LayerNorm(6)]),
            mod.ModuleDict({"out": mod.Linear(6, 2), "act": mod.Softmax(dim=1)}),
            mod.Identity(),
        )

    assert repr(build(nn)) == repr(build(torch.nn))
