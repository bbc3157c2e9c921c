"""create_graph=True against torch 2.13: Hessian-vector products, gradient penalty, MAML, third order, errors."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import torch

import thalweg as tw
import thalweg.nn.functional as F
from thalweg.autograd import Function, GradcheckError, gradgradcheck
from thalweg.autograd.functional import hessian, hvp

TF = torch.nn.functional

# torch warns that backward(create_graph=True) makes a parameter/gradient reference cycle; these tests do it on purpose
pytestmark = pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True:UserWarning")


def pair(a: np.ndarray, requires_grad: bool = True) -> tuple[tw.Tensor, torch.Tensor]:
    """The same float64 values as a thalweg and a torch leaf."""
    a = np.asarray(a, dtype=np.float64)
    return tw.tensor(a.copy(), requires_grad=requires_grad), torch.tensor(a.copy(), requires_grad=requires_grad)


def close(a: Any, b: Any, tol: float = 1e-8) -> None:
    a = a.array if isinstance(a, tw.Tensor) else np.asarray(a)
    np.testing.assert_allclose(a, b.detach().numpy(), rtol=tol, atol=tol)


def tw_hvp(loss: tw.Tensor, params: list[tw.Tensor], vs: list[np.ndarray]) -> list[tw.Tensor]:
    grads = tw.autograd.grad(loss, params, create_graph=True)
    dot = sum(((g * tw.tensor(v)).sum() for g, v in zip(grads, vs)), tw.tensor(0.0, dtype="float64"))
    return tw.autograd.grad(dot, params, allow_unused=True, create_graph=True)


def torch_hvp(loss: torch.Tensor, params: list[torch.Tensor], vs: list[np.ndarray]) -> list[torch.Tensor]:
    grads = torch.autograd.grad(loss, params, create_graph=True)
    dot = sum((g * torch.tensor(v)).sum() for g, v in zip(grads, vs))
    return list(torch.autograd.grad(dot, params, allow_unused=True, materialize_grads=True))


def compare_hvp(build_tw: Callable[..., Any], build_torch: Callable[..., Any], arrays: list[np.ndarray],
                seed: int = 0, tol: float = 1e-8) -> None:
    rng = np.random.default_rng(seed)
    ours = [tw.tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    vs = [rng.standard_normal(a.shape) for a in arrays]
    loss_tw, loss_t = build_tw(*ours), build_torch(*theirs)
    close(loss_tw, loss_t)
    for a, b in zip(tw_hvp(loss_tw, ours, vs), torch_hvp(loss_t, theirs, vs)):
        close(np.zeros(b.shape) if a is None else a, b, tol)


def test_hvp_mlp_matches_torch() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4))
    y = np.array([0, 2, 1, 1, 0])
    arrays = [rng.standard_normal((6, 4)) * 0.5, rng.standard_normal(6) * 0.1, rng.standard_normal((3, 6)) * 0.5,
              rng.standard_normal(3) * 0.1]

    def ours(w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
        h = F.gelu(F.linear(tw.tensor(x), w1, b1))
        h = F.layer_norm(F.tanh(h) + F.softplus(h), (6,))
        return F.cross_entropy(F.linear(h, w2, b2), tw.tensor(y), label_smoothing=0.1)

    def theirs(w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
        h = TF.gelu(TF.linear(torch.tensor(x), w1, b1))
        h = TF.layer_norm(torch.tanh(h) + TF.softplus(h), (6,))
        return TF.cross_entropy(TF.linear(h, w2, b2), torch.tensor(y), label_smoothing=0.1)

    compare_hvp(ours, theirs, arrays)


def test_hvp_cnn_matches_torch() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 1, 6, 6))
    y = np.array([1, 0])
    arrays = [rng.standard_normal((3, 1, 3, 3)) * 0.5, rng.standard_normal(3) * 0.1, np.ones(3), np.zeros(3),
              rng.standard_normal((2, 3, 2)) * 0.5, rng.standard_normal((2, 12)) * 0.3]

    def ours(w: Any, b: Any, gamma: Any, beta: Any, w1: Any, wl: Any) -> Any:
        h = F.conv2d(tw.tensor(x), w, b, padding=1)
        h = F.elu(F.batch_norm(h, None, None, gamma, beta, training=True))
        h = F.avg_pool2d(F.max_pool2d(h, 2), 1) + F.adaptive_avg_pool2d(h, (3, 3))
        h = F.conv1d(h.reshape(2, 3, 9), w1, None, padding=1)
        return F.cross_entropy(F.linear(F.sigmoid(h[:, :, :6]).reshape(2, 12), wl), tw.tensor(y))

    def theirs(w: Any, b: Any, gamma: Any, beta: Any, w1: Any, wl: Any) -> Any:
        h = TF.conv2d(torch.tensor(x), w, b, padding=1)
        h = TF.elu(TF.batch_norm(h, None, None, gamma, beta, training=True))
        h = TF.avg_pool2d(TF.max_pool2d(h, 2), 1) + TF.adaptive_avg_pool2d(h, (3, 3))
        h = TF.conv1d(h.reshape(2, 3, 9), w1, None, padding=1)
        return TF.cross_entropy(TF.linear(torch.sigmoid(h[:, :, :6]).reshape(2, 12), wl), torch.tensor(y))

    compare_hvp(ours, theirs, arrays)


_Y = np.array([0, 2, 1, 2])
_Q = np.random.default_rng(3).dirichlet(np.ones(3), size=4)
_T01 = np.random.default_rng(4).uniform(0, 1, (4, 3))
_TR = np.random.default_rng(5).standard_normal((4, 3))
_W = np.array([0.5, 2.0, 1.0])

LOSSES: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "cross_entropy": (lambda z: F.cross_entropy(z, tw.tensor(_Y)), lambda z: TF.cross_entropy(z, torch.tensor(_Y))),
    "cross_entropy_weight_ignore_smooth": (
        lambda z: F.cross_entropy(z, tw.tensor(np.array([0, -1, 1, 2])), weight=tw.tensor(_W), ignore_index=-1,
                                  label_smoothing=0.3),
        lambda z: TF.cross_entropy(z, torch.tensor(np.array([0, -1, 1, 2])), weight=torch.tensor(_W),
                                   ignore_index=-1, label_smoothing=0.3)),
    "cross_entropy_probabilities": (lambda z: F.cross_entropy(z, tw.tensor(_Q), reduction="sum"),
                                    lambda z: TF.cross_entropy(z, torch.tensor(_Q), reduction="sum")),
    "nll": (lambda z: F.nll_loss(F.log_softmax(z, dim=1), tw.tensor(_Y), weight=tw.tensor(_W)),
            lambda z: TF.nll_loss(TF.log_softmax(z, dim=1), torch.tensor(_Y), weight=torch.tensor(_W))),
    "mse": (lambda z: F.mse_loss(z * z, tw.tensor(_TR)), lambda z: TF.mse_loss(z * z, torch.tensor(_TR))),
    # torch's own l1 double backward costs seconds of one-time setup; |u| = sqrt(u^2) has the same derivatives
    "l1": (lambda z: F.l1_loss(z * z, tw.tensor(_TR), reduction="sum"),
           lambda z: torch.sqrt((z * z - torch.tensor(_TR)) ** 2).sum()),
    "huber": (lambda z: F.huber_loss(z * z, tw.tensor(_TR), delta=0.8),
              lambda z: TF.huber_loss(z * z, torch.tensor(_TR), delta=0.8)),
    "smooth_l1": (lambda z: F.smooth_l1_loss(z * z, tw.tensor(_TR), beta=0.5),
                  lambda z: TF.smooth_l1_loss(z * z, torch.tensor(_TR), beta=0.5)),
    "bce": (lambda z: F.binary_cross_entropy(F.sigmoid(z), tw.tensor(_T01)),
            lambda z: TF.binary_cross_entropy(torch.sigmoid(z), torch.tensor(_T01))),
    "bce_with_logits": (
        lambda z: F.binary_cross_entropy_with_logits(z, tw.tensor(_T01), pos_weight=tw.tensor(_W)),
        lambda z: TF.binary_cross_entropy_with_logits(z, torch.tensor(_T01), pos_weight=torch.tensor(_W))),
    "kl_div": (lambda z: F.kl_div(F.log_softmax(z, dim=1), tw.tensor(_Q), reduction="batchmean"),
               lambda z: TF.kl_div(TF.log_softmax(z, dim=1), torch.tensor(_Q), reduction="batchmean")),
    "kl_div_log_target": (lambda z: F.kl_div(F.log_softmax(z, dim=1), tw.tensor(np.log(_Q)), reduction="sum",
                                             log_target=True),
                          lambda z: TF.kl_div(TF.log_softmax(z, dim=1), torch.tensor(np.log(_Q)), reduction="sum",
                                              log_target=True)),
    "cosine_embedding": (lambda z: (1 - F.cosine_similarity(z, tw.tensor(_TR))).mean(),
                         lambda z: (1 - TF.cosine_similarity(z, torch.tensor(_TR))).mean()),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_hvp_matches_torch(name: str) -> None:
    ours, theirs = LOSSES[name]
    z0 = np.random.default_rng(6).standard_normal((4, 3))
    compare_hvp(ours, theirs, [z0])


def _critic(params: list[Any], x: Any, lib: Any) -> Any:
    w1, b1, w2, b2 = params
    act = F.leaky_relu if lib is tw else TF.leaky_relu
    lin = F.linear if lib is tw else TF.linear
    return lin(act(lin(x, w1, b1), 0.2), w2, b2)


def test_wgan_gp_step_matches_torch() -> None:
    """Critic loss with a gradient penalty on interpolates, its backward and an SGD step, twice."""
    rng = np.random.default_rng(7)
    init = [rng.standard_normal((8, 3)) * 0.5, rng.standard_normal(8) * 0.1, rng.standard_normal((1, 8)) * 0.5,
            np.zeros(1)]
    real, fake, alpha = rng.standard_normal((6, 3)), rng.standard_normal((6, 3)), rng.uniform(size=(6, 1))
    results = []
    for lib in (tw, torch):
        params = [lib.tensor(a.copy(), requires_grad=True) for a in init]
        for _ in range(2):
            x_hat = lib.tensor(alpha * real + (1 - alpha) * fake, requires_grad=True)
            d_hat = _critic(params, x_hat, lib)
            (g,) = lib.autograd.grad(d_hat.sum(), [x_hat], create_graph=True)
            gp = ((g.norm(2, dim=1) - 1) ** 2).mean()
            loss = _critic(params, lib.tensor(fake), lib).mean() - _critic(params, lib.tensor(real), lib).mean() \
                + 10 * gp
            for p in params:
                p.grad = None
            loss.backward()
            with lib.no_grad():  # (torch.optim's first step costs seconds of one-time setup)
                for p in params:
                    p -= 0.05 * p.grad
        results.append(([p.grad for p in params], params, gp))
    (grads_tw, params_tw, gp_tw), (grads_t, params_t, gp_t) = results
    close(gp_tw, gp_t)
    for a, b in zip(grads_tw, grads_t):
        close(a, b)
    for a, b in zip(params_tw, params_t):
        close(a, b)


def test_maml_inner_step_matches_torch() -> None:
    """One inner SGD step with create_graph, then the query loss backpropagated through it."""
    rng = np.random.default_rng(8)
    init = [rng.standard_normal((5, 2)) * 0.5, np.zeros(5), rng.standard_normal((1, 5)) * 0.5, np.zeros(1)]
    xs, ys = rng.standard_normal((4, 2)), rng.standard_normal((4, 1))
    xq, yq = rng.standard_normal((4, 2)), rng.standard_normal((4, 1))
    outs = []
    for lib, fn in ((tw, F), (torch, TF)):
        params = [lib.tensor(a.copy(), requires_grad=True) for a in init]

        def net(p: list[Any], x: Any) -> Any:
            return fn.linear(lib.tanh(fn.linear(x, p[0], p[1])), p[2], p[3])

        inner = fn.mse_loss(net(params, lib.tensor(xs)), lib.tensor(ys))
        grads = lib.autograd.grad(inner, params, create_graph=True)
        fast = [p - 0.4 * g for p, g in zip(params, grads)]
        outer = fn.mse_loss(net(fast, lib.tensor(xq)), lib.tensor(yq))
        outer.backward()
        outs.append((outer, [p.grad for p in params]))
    close(outs[0][0], outs[1][0])
    for a, b in zip(outs[0][1], outs[1][1]):
        close(a, b)


def test_third_order_derivative_of_scalar_function() -> None:
    x_tw, x_t = pair(np.array([0.3, -1.2, 2.0]))
    derivs = []
    for x, lib in ((x_tw, tw), (x_t, torch)):
        y = (lib.exp(x * 0.5) * x ** 3 + lib.tanh(x)).sum()
        out = []
        for _ in range(3):
            (y,) = lib.autograd.grad(y, [x], create_graph=True)
            out.append(y)
            y = y.sum()
        derivs.append(out)
    for a, b in zip(*derivs):
        close(a, b)
    # f''' of x^3 alone is 6 everywhere: a closed form check independent of torch
    z = tw.tensor(np.array([1.5, -0.5]), requires_grad=True)
    (d1,) = tw.autograd.grad((z ** 3).sum(), z, create_graph=True)
    (d2,) = tw.autograd.grad(d1.sum(), z, create_graph=True)
    (d3,) = tw.autograd.grad(d2.sum(), z)
    np.testing.assert_allclose(np.asarray(d3), [6.0, 6.0])


def test_backward_create_graph_gives_grad_with_graph() -> None:
    x_tw, x_t = pair(np.array([1.0, 2.0, -0.5]))
    for x, lib in ((x_tw, tw), (x_t, torch)):
        (x ** 3).sum().backward(create_graph=True)
        assert x.grad.requires_grad
        g = x.grad
        x.grad = None
        (g * g).sum().backward()
    close(x_tw.grad, x_t.grad)  # d/dx sum (3 x^2)^2 = 36 x^3


def test_grad_outputs_that_require_grad_are_differentiated() -> None:
    x_tw, x_t = pair(np.array([[0.5, -1.0], [2.0, 0.1]]))
    v_tw, v_t = pair(np.array([[1.0, 2.0], [-1.0, 0.5]]))
    res = []
    for x, v, lib in ((x_tw, v_tw, tw), (x_t, v_t, torch)):
        (g,) = lib.autograd.grad(lib.sigmoid(x) * x, [x], grad_outputs=[v], create_graph=True)
        res.append(lib.autograd.grad((g ** 2).sum(), [x, v]))
    for a, b in zip(*res):
        close(a, b)


def test_functional_hvp_and_hessian_match_torch() -> None:
    a = np.array([0.2, -0.7, 1.1])
    v = np.array([1.0, -2.0, 0.5])

    def f_tw(x: Any) -> Any:
        return (F.softmax(x, dim=0) * tw.log(x * x + 1)).sum()

    def f_t(x: Any) -> Any:
        return (torch.softmax(x, dim=0) * torch.log(x * x + 1)).sum()

    out, hv = hvp(f_tw, tw.tensor(a), tw.tensor(v))
    out_t, hv_t = torch.autograd.functional.hvp(f_t, torch.tensor(a), torch.tensor(v))
    close(out, out_t)
    close(hv, hv_t)
    close(hessian(f_tw, tw.tensor(a)), torch.autograd.functional.hessian(f_t, torch.tensor(a)))
    h2 = hessian(lambda p, q: (p * p * q).sum(), (tw.tensor(a), tw.tensor(v)))
    h2_t = torch.autograd.functional.hessian(lambda p, q: (p * p * q).sum(), (torch.tensor(a), torch.tensor(v)))
    for i in range(2):
        for j in range(2):
            close(h2[i][j], h2_t[i][j])


def test_cast_in_the_recorded_backward() -> None:
    x_tw, x_t = pair(np.array([0.5, 1.5]))
    res = []
    for x, lib in ((x_tw, tw), (x_t, torch)):
        (g,) = lib.autograd.grad((x.float() ** 3).sum(), [x], create_graph=True)
        assert g.dtype == x.dtype
        res.append(lib.autograd.grad(g.sum(), [x])[0])
    close(res[0], res[1], 1e-5)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recurrent_hvp_matches_torch(kind: str) -> None:
    """Hessian-vector products through the fused layers (recomputed unrolled) against torch's modules."""
    tw.manual_seed(0)
    torch.manual_seed(0)
    ours = getattr(tw.nn, kind)(2, 3, num_layers=2, bidirectional=True)
    theirs = getattr(torch.nn, kind)(2, 3, num_layers=2, bidirectional=True).double()
    names = [n for n, _ in theirs.named_parameters()]
    mine = dict(ours.named_parameters())
    arrays = [p.detach().numpy().copy() for p in theirs.parameters()]
    x = np.random.default_rng(3).standard_normal((4, 2, 2))
    rng = np.random.default_rng(4)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    params_tw = []
    for n, a in zip(names, arrays):
        p = mine[n]
        p.data = tw.tensor(a.copy())
        params_tw.append(p)
    loss_tw = (ours(tw.tensor(x))[0] ** 2).sum()
    loss_t = (theirs(torch.tensor(x))[0] ** 2).sum()
    close(loss_tw, loss_t)
    for a, b in zip(tw_hvp(loss_tw, params_tw, vs), torch_hvp(loss_t, list(theirs.parameters()), vs)):
        close(a, b, 1e-7)


def test_rnn_input_gradient_penalty_with_lengths_matches_torch() -> None:
    """d/dW of ||dL/dx||^2 through an LSTM over padded sequences (torch: a packed sequence)."""
    tw.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = tw.nn.LSTM(2, 3), torch.nn.LSTM(2, 3).double()
    mine = dict(ours.named_parameters())
    for n, p in theirs.named_parameters():
        mine[n].data = tw.tensor(p.detach().numpy().copy())
    xa = np.random.default_rng(5).standard_normal((4, 2, 2))
    lengths = [4, 2]
    x_tw, x_t = pair(xa)
    _, (h_tw, _) = ours(x_tw, lengths=tw.tensor(np.array(lengths)))
    packed = torch.nn.utils.rnn.pack_padded_sequence(x_t, lengths)
    _, (h_t, _) = theirs(packed)
    close(h_tw, h_t)
    res = []
    for x, h, params, lib in ((x_tw, h_tw, [mine[n] for n, _ in theirs.named_parameters()], tw),
                              (x_t, h_t, list(theirs.parameters()), torch)):
        (g,) = lib.autograd.grad((h ** 3).sum(), [x], create_graph=True)
        res.append(lib.autograd.grad((g * g).sum(), params))
    for a, b in zip(*res):
        close(a, b, 1e-7)


class _Cube(Function):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.x = x
        return x ** 3

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad * 3 * ctx.x ** 2


def test_function_without_rule_raises_naming_it() -> None:
    x = tw.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (g,) = tw.autograd.grad(_Cube.apply(x).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.array, [3.0, 12.0])  # the first-order value is still right
    with pytest.raises(RuntimeError, match="double backward is not implemented for _Cube"):
        g.sum().backward()


def test_gradgradcheck_catches_a_wrong_rule() -> None:
    from thalweg.autograd import higher_order

    class _Square(Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x * x

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            return 2 * grad * ctx.x  # pragma: no cover - replaced below

    def forward(ctx: Any, x: Any) -> Any:
        ctx.x = x
        return x * x

    _Square.forward = staticmethod(forward)
    _Square.backward = staticmethod(lambda ctx, grad: 2 * grad * ctx.x)
    x = tw.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    higher_order.register(_Square)(lambda ctx, g: g * ctx.inputs[0] * 2)  # right: d/dx (2 g x) = 2 g
    try:
        assert gradgradcheck(_Square.apply, [x])
        higher_order.register(_Square)(lambda ctx, g: g * ctx.inputs[0] * ctx.inputs[0])  # wrong: g x^2
        with pytest.raises(GradcheckError):
            gradgradcheck(_Square.apply, [x])
    finally:
        higher_order.unregister(_Square)


def test_retain_graph_defaults_to_create_graph() -> None:
    x = tw.tensor(np.array([0.5, 1.0]), requires_grad=True)
    y = (tw.exp(x) * x).sum()
    y.backward(create_graph=True)
    first = x.grad.array.copy()
    y.backward(create_graph=True)  # the graph is kept: a second pass works and accumulates
    np.testing.assert_allclose(x.grad.array, 2 * first)


def test_hooks_and_retain_grad_see_recorded_gradients() -> None:
    x_tw, x_t = pair(np.array([0.5, -1.5, 2.0]))
    res = []
    for x, lib in ((x_tw, tw), (x_t, torch)):
        h = x * x
        h.retain_grad()
        h.register_hook(lambda g: g * 3)
        (lib.sin(h) if lib is torch else tw.sin(h)).sum().backward(create_graph=True)
        assert h.grad.requires_grad and x.grad.requires_grad
        res.append((h.grad, x.grad, lib.autograd.grad(x.grad.sum(), [x])[0]))
    for a, b in zip(*res):
        close(a, b)


def test_in_place_change_after_forward_is_an_error() -> None:
    x = tw.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    with tw.no_grad():
        x.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tw.autograd.grad(y, [x], create_graph=True)


def test_functional_create_graph_keeps_the_inputs_graph() -> None:
    a, v = np.array([0.3, -0.4]), np.array([1.0, 2.0])
    res = []
    for lib, hv_fn in ((tw, hvp), (torch, torch.autograd.functional.hvp)):
        x = lib.tensor(a.copy(), requires_grad=True)
        _, hv = hv_fn(lambda z: (z ** 4).sum(), x, lib.tensor(v), create_graph=True)
        res.append(lib.autograd.grad(hv.sum(), [x])[0])  # d/dx sum(12 x^2 v) = 24 x v
    close(res[0], res[1])


def test_float32_model_keeps_its_dtype_in_double_backward() -> None:
    """A float32 CNN: the recorded gradients and the Hessian-vector product stay float32 and match torch."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 1, 5, 5)).astype(np.float32)
    arrays = [(rng.standard_normal((2, 1, 3, 3)) * 0.5).astype(np.float32),
              (rng.standard_normal((3, 8)) * 0.5).astype(np.float32)]
    vs = [rng.standard_normal(a.shape).astype(np.float32) for a in arrays]
    ours = [tw.tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    h = F.max_pool2d(F.softplus(F.conv2d(tw.tensor(x), ours[0], padding=1)), 2)
    loss_tw = F.cross_entropy(F.linear(F.dropout(h, 0.0).reshape(2, 8), ours[1]), tw.tensor(np.array([0, 2])))
    ht = TF.max_pool2d(TF.softplus(TF.conv2d(torch.tensor(x), theirs[0], padding=1)), 2)
    loss_t = TF.cross_entropy(TF.linear(ht.reshape(2, 8), theirs[1]), torch.tensor(np.array([0, 2])))
    ours_hv = tw_hvp(loss_tw, ours, [v for v in vs])
    for a, b in zip(ours_hv, torch_hvp(loss_t, theirs, vs)):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a.array, b.numpy(), rtol=1e-4, atol=1e-5)


EDGES: dict[str, tuple[Callable[..., Any], Callable[..., Any], list[np.ndarray]]] = {
    "pow_zero_exponent": (lambda x, y: x ** y, lambda x, y: x ** y,
                          [np.array([0.5, 1.5, 2.0]), np.array([0.0, 2.0, 1.0])]),
    "pow_zero_base": (lambda x, y: x ** y, lambda x, y: x ** y,
                      [np.array([0.0, 0.0, 2.0]), np.array([2.0, 0.5, 1.0])]),
    "abs_relu_at_zero": (lambda x: tw.abs(x) * x + F.relu(x) * x, lambda x: torch.abs(x) * x + torch.relu(x) * x,
                         [np.array([0.0, -1.0, 2.0])]),
    "clamp_at_bounds": (lambda x: tw.clamp(x, -1.0, 1.0) * x, lambda x: torch.clamp(x, -1.0, 1.0) * x,
                        [np.array([-1.0, 0.5, 1.0, 2.0])]),
    "max_ties": (lambda x: x.amax(dim=0) * x.sum(), lambda x: x.amax(dim=0) * x.sum(),
                 [np.array([[1.0, 2.0], [1.0, 0.5]])]),
    "maximum_ties": (lambda x, y: tw.maximum(x, y) * x, lambda x, y: torch.maximum(x, y) * x,
                     [np.array([1.0, 2.0]), np.array([1.0, 3.0])]),
    "norm_at_zero": (lambda x: x.norm(dim=1) * x.sum(), lambda x: x.norm(dim=1) * x.sum(),
                     [np.array([[0.0, 0.0], [3.0, 4.0]])]),
    "sqrt_div": (lambda x, y: tw.sqrt(x) / y, lambda x, y: torch.sqrt(x) / y,
                 [np.array([0.5, 4.0]), np.array([2.0, -3.0])]),
}


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf - inf at a zero base
@pytest.mark.parametrize("name", sorted(EDGES))
def test_second_derivatives_at_edges_match_torch(name: str) -> None:
    """torch's subgradient conventions at kinks and ties carry over to the second derivatives.

    Where torch's formulas multiply 0 by an infinite log or take 0/0 (a zero
    base of pow, a zero norm) it returns NaN; there thalweg gives the limit
    when one exists (0 for the zero norm, 0 or -inf for the zero base) and is
    compared only where torch is a number.
    """
    ours, theirs, arrays = EDGES[name]
    res = []
    for lib, fn in ((tw, ours), (torch, theirs)):
        xs = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
        out = fn(*xs)
        v = lib.tensor(np.linspace(0.5, 1.5, int(np.prod(out.shape))).reshape(tuple(out.shape)))
        gs = lib.autograd.grad(out, xs, grad_outputs=[v], create_graph=True)
        total = sum((g * g).sum() for g in gs)
        res.append(lib.autograd.grad(total, xs, allow_unused=True))
    for a, b in zip(*res):
        mine = np.zeros(b.shape) if a is None else np.asarray(a)
        ref = b.detach().numpy()
        if name == "norm_at_zero":
            assert np.isfinite(mine).all()
        finite = ~np.isnan(ref)
        np.testing.assert_allclose(mine[finite], ref[finite], rtol=1e-8, atol=1e-8)
