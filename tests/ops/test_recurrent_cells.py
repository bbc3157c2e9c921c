"""The fused single-step cell Functions (LSTMCellFunction, GRUCellFunction, RNNCellFunction).

float64 gradchecks of each, with and without biases and initial states, and
parity of ``nn.LSTMCell``/``GRUCell``/``RNNCell`` stepped in a loop with torch
(values and every gradient).
"""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg.autograd.gradcheck import gradcheck
from thalweg.ops.recurrent import GRUCellFunction, LSTMCellFunction, RNNCellFunction

B, F, H = 3, 4, 5


def _t(rng, *shape):
    return tw.tensor(rng.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("state", [True, False])
def test_lstm_cell_function_gradcheck(bias, state):
    rng = np.random.default_rng(0)
    x, h, c = _t(rng, B, F), _t(rng, B, H), _t(rng, B, H)
    w_ih, w_hh = _t(rng, 4 * H, F), _t(rng, 4 * H, H)
    b_ih, b_hh = (_t(rng, 4 * H), _t(rng, 4 * H)) if bias else (None, None)
    if not state:
        h = c = None
    assert gradcheck(lambda *a: LSTMCellFunction.apply(*a), [x, h, c, w_ih, w_hh, b_ih, b_hh])


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("state", [True, False])
def test_gru_cell_function_gradcheck(bias, state):
    rng = np.random.default_rng(1)
    x, h = _t(rng, B, F), (_t(rng, B, H) if state else None)
    w_ih, w_hh = _t(rng, 3 * H, F), _t(rng, 3 * H, H)
    b_ih, b_hh = (_t(rng, 3 * H), _t(rng, 3 * H)) if bias else (None, None)
    assert gradcheck(lambda *a: GRUCellFunction.apply(*a), [x, h, w_ih, w_hh, b_ih, b_hh])


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("state", [True, False])
def test_rnn_cell_function_gradcheck(nonlinearity, state):
    rng = np.random.default_rng(2)
    x, h = _t(rng, B, F), (_t(rng, B, H) if state else None)
    w_ih, w_hh, b_ih, b_hh = _t(rng, H, F), _t(rng, H, H), _t(rng, H), _t(rng, H)
    assert gradcheck(lambda *a: RNNCellFunction.apply(*a, nonlinearity=nonlinearity),
                     [x, h, w_ih, w_hh, b_ih, b_hh])


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell", "RNNCell"])
def test_cells_stepped_in_a_loop_match_torch(kind):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tc1, tc2 = getattr(torch.nn, kind)(3, 6).double(), getattr(torch.nn, kind)(6, 6).double()
    oc1, oc2 = getattr(tw.nn, kind)(3, 6, dtype="float64"), getattr(tw.nn, kind)(6, 6, dtype="float64")
    for o, t in ((oc1, tc1), (oc2, tc2)):
        o.load_state_dict({k: v.detach().numpy().copy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((7, 4, 3))

    def run(lib, c1, c2, xs):
        s1 = s2 = None
        outs = []
        for t in range(xs.shape[0]):
            s1 = c1(xs[t], s1)
            s2 = c2(s1[0] if kind == "LSTMCell" else s1, s2)
            outs.append(s2[0] if kind == "LSTMCell" else s2)
        return lib.stack(outs)

    xt = torch.from_numpy(x).requires_grad_(True)
    xo = tw.tensor(x, requires_grad=True)
    yt, yo = run(torch, tc1, tc2, xt), run(tw, oc1, oc2, xo)
    np.testing.assert_allclose(yo.array, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    (yt * yt).sum().backward()
    (yo * yo).sum().backward()
    np.testing.assert_allclose(xo.grad.array, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (name, p), q in zip(oc1.named_parameters(), tc1.parameters()):
        np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
    for (name, p), q in zip(oc2.named_parameters(), tc2.parameters()):
        np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
