"""Second-order gradient checks (``gradgradcheck``, float64) of every op family under create_graph=True."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg.autograd import gradgradcheck


def leaf(*shape: int, seed: int = 0, low: float = -1.0, high: float = 1.0, away: float = 0.0) -> tw.Tensor:
    """A float64 leaf with values in [low, high], at least ``away`` from 0 in magnitude."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(low, high, shape)
    if away:
        a = np.where(np.abs(a) < away, np.sign(a + 1e-12) * away, a)
    return tw.tensor(a, requires_grad=True)


def const(*shape: int, seed: int = 5) -> tw.Tensor:
    return tw.tensor(np.random.default_rng(seed).uniform(-1, 1, shape))


def check(fn: Callable[..., Any], *inputs: Any) -> None:
    assert gradgradcheck(fn, list(inputs), atol=1e-5, rtol=1e-3)


ELEMENTWISE = {
    "add_broadcast": (lambda a, b: (a + b) * a, lambda: (leaf(2, 3), leaf(3, seed=1))),
    "sub": (lambda a, b: (a - b) ** 2, lambda: (leaf(2, 3), leaf(2, 1, seed=1))),
    "mul": (lambda a, b: a * b * a, lambda: (leaf(2, 3), leaf(3, seed=1))),
    "div": (lambda a, b: a / b, lambda: (leaf(2, 3), leaf(2, 3, seed=1, low=0.5, high=2.0))),
    "div_const_numerator": (lambda b: 2.0 / b, lambda: (leaf(4, low=0.5, high=2.0),)),
    "neg": (lambda a: -(a * a), lambda: (leaf(3),)),
    "pow_scalar": (lambda a: a ** 3 + a ** 2, lambda: (leaf(2, 3),)),
    "pow_tensor": (lambda a, b: a ** b, lambda: (leaf(3, low=0.5, high=2.0), leaf(3, seed=1))),
    "pow_base_scalar": (lambda b: 2.0 ** b, lambda: (leaf(3),)),
    "exp_log_sqrt": (lambda a: tw.exp(a) + tw.log(a) * tw.sqrt(a), lambda: (leaf(4, low=0.5, high=2.0),)),
    "abs": (lambda a: tw.abs(a) * a, lambda: (leaf(5, away=0.2),)),
    "clamp": (lambda a: tw.clamp(a, -0.5, 0.5) * a, lambda: (leaf(6, away=0.1),)),
    "maximum_minimum": (lambda a, b: tw.maximum(a, b) * tw.minimum(a, b) * a,
                        lambda: (leaf(5), leaf(5, seed=3))),
    "where": (lambda a, b: tw.where(a.array > 0, a * a, b * a), lambda: (leaf(6), leaf(6, seed=1))),
    "clone": (lambda a: (a * a).clone() * a, lambda: (leaf(3),)),
}

MATH = {
    "trig": (lambda a: tw.sin(a) * tw.cos(a) + tw.tan(a) + tw.atan(a), lambda: (leaf(4),)),
    "inverse_trig_hyperbolic": (lambda a: tw.asin(a) + tw.acos(a) * tw.atanh(a) + tw.asinh(a) * tw.sinh(a)
                                + tw.cosh(a), lambda: (leaf(4, low=-0.8, high=0.8),)),
    "logs_exps": (lambda a: tw.log1p(a) * tw.expm1(a) + tw.log2(a + 2) + tw.log10(a + 2) + tw.exp2(a),
                  lambda: (leaf(4, low=-0.5, high=1.0),)),
    "powers": (lambda a: tw.rsqrt(a) + tw.reciprocal(a) * tw.square(a) + tw.acosh(a + 1),
               lambda: (leaf(4, low=0.5, high=2.0),)),
    "special": (lambda a: tw.erf(a) * tw.erfc(a) + tw.lgamma(a + 2) + tw.erfinv(a * 0.5),
                lambda: (leaf(4, low=-0.9, high=0.9),)),
    "binary_math": (lambda a, b: tw.logaddexp(a, b) * tw.hypot(a, b) + tw.atan2(a, b) + tw.lerp(a, b, a * b),
                    lambda: (leaf(4, away=0.2), leaf(4, seed=1, away=0.2))),
    "piecewise_math": (lambda a, b: (tw.fmod(a, b) * tw.remainder(a, b) + tw.copysign(a, b) * a
                                     + tw.round(a) + tw.nan_to_num(a)) * a,
                       lambda: (leaf(4, low=0.1, high=3.0), leaf(4, seed=1, low=0.7, high=1.3))),
    "logit_xlogy": (lambda a, b: tw.logit(a) * tw.xlogy(a, b) + tw.logit(a, eps=0.3),
                    lambda: (leaf(4, low=0.1, high=0.9), leaf(4, seed=1, low=0.5, high=2.0))),
}

REDUCTIONS = {
    "sum": (lambda a: a.sum(axis=1) ** 2, lambda: (leaf(2, 3),)),
    "sum_all_keepdim": (lambda a: a.sum(dim=(0, 1), keepdim=True) * a, lambda: (leaf(2, 3),)),
    "mean": (lambda a: a.mean(axis=0) * a, lambda: (leaf(2, 3),)),
    "amax": (lambda a: a.amax(axis=1) * a.sum(), lambda: (leaf(2, 4),)),
    "max_dim": (lambda a: a.max(dim=1)[0] ** 2, lambda: (leaf(3, 4),)),
    "var": (lambda a: a.var(dim=1), lambda: (leaf(2, 4),)),
    "std": (lambda a: a.std(), lambda: (leaf(2, 4),)),
    "prod": (lambda a: a.prod(dim=1), lambda: (leaf(2, 4, away=0.3),)),
    "norm": (lambda a: a.norm(dim=1), lambda: (leaf(3, 4),)),
    "norm_p3": (lambda a: a.norm(p=3), lambda: (leaf(4, away=0.2),)),
    "logsumexp": (lambda a: a.logsumexp(dim=-1), lambda: (leaf(2, 5),)),
}

SHAPES = {
    "reshape_permute": (lambda a: (a.reshape(3, 2).permute(1, 0) * a) ** 2, lambda: (leaf(2, 3),)),
    "transpose_expand": (lambda a: a.transpose(0, 1).expand(2, 3, 2) ** 2, lambda: (leaf(2, 3),)),
    "cat_stack": (lambda a, b: tw.cat([a, b * a], dim=0) * tw.stack([a, b], dim=0).sum(0).sum(),
                  lambda: (leaf(2, 3), leaf(2, 3, seed=1))),
    "pad": (lambda a: F.pad(a * a, (1, 2)), lambda: (leaf(2, 3),)),
    "getitem_slice": (lambda a: a[:, 1:] ** 2, lambda: (leaf(3, 4),)),
    "getitem_repeated": (lambda a: a[np.array([0, 2, 0])] ** 3, lambda: (leaf(3, 2),)),
    "gather": (lambda a: a.gather(1, tw.tensor(np.array([[0, 0], [2, 1]]))) ** 2, lambda: (leaf(2, 3),)),
}

ACTIVATIONS = {
    "relu": (lambda a: F.relu(a) ** 2, lambda: (leaf(6, away=0.1),)),
    "sigmoid": (F.sigmoid, lambda: (leaf(5, low=-3, high=3),)),
    "tanh": (F.tanh, lambda: (leaf(5, low=-2, high=2),)),
    "elu": (lambda a: F.elu(a, alpha=1.5), lambda: (leaf(6, away=0.1),)),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.2) ** 2, lambda: (leaf(6, away=0.1),)),
    "softplus": (lambda a: F.softplus(a, beta=2.0), lambda: (leaf(6, low=-3, high=3),)),
    "softplus_linear_part": (lambda a: F.softplus(a, threshold=1.0) * a, lambda: (leaf(6, low=-3, high=3),)),
    "softmax": (lambda a: F.softmax(a, dim=1), lambda: (leaf(2, 4),)),
    "log_softmax": (lambda a: F.log_softmax(a, dim=0), lambda: (leaf(3, 2),)),
    "gelu": (F.gelu, lambda: (leaf(6, low=-3, high=3),)),
    "gelu_tanh": (lambda a: F.gelu(a, approximate="tanh"), lambda: (leaf(6, low=-3, high=3),)),
}


def _bn_train(x: Any, w: Any, b: Any) -> Any:
    return F.batch_norm(x, None, None, w, b, training=True)


def _bn_eval(x: Any, w: Any) -> Any:
    rm, rv = tw.tensor(np.array([0.1, -0.2])), tw.tensor(np.array([0.5, 2.0]))
    return F.batch_norm(x, rm, rv, w, None, training=False) ** 2


def _attention(q: Any, k: Any, v: Any, m: Any) -> Any:
    return F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.7) ** 2


def _causal_attention(q: Any, k: Any, v: Any) -> Any:
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


LAYERS = {
    "attention_float_mask": (_attention, lambda: (leaf(1, 3, 2), leaf(1, 4, 2, seed=1), leaf(1, 4, 2, seed=2),
                                                  leaf(3, 4, seed=3))),
    "attention_causal": (_causal_attention, lambda: (leaf(2, 3, 2), leaf(2, 3, 2, seed=1), leaf(2, 3, 2, seed=2))),
    "matmul_2d": (lambda a, b: (a @ b) ** 2, lambda: (leaf(2, 3), leaf(3, 2, seed=1))),
    "matmul_batched": (lambda a, b: (a @ b) ** 2, lambda: (leaf(2, 2, 3), leaf(3, 2, seed=1))),
    "matmul_vectors": (lambda a, b, c: ((a @ b) @ c) * (a @ a) + (b @ c) ** 2,
                       lambda: (leaf(3), leaf(3, 2, seed=1), leaf(2, seed=2))),
    "linear_3d": (lambda x, w, b: F.tanh(F.linear(x, w, b)), lambda: (leaf(2, 2, 3), leaf(4, 3, seed=1),
                                                                     leaf(4, seed=2))),
    "linear_const_input": (lambda w: F.linear(const(2, 3), w) ** 2, lambda: (leaf(4, 3, seed=1),)),
    "dropout": (lambda x: F.dropout(x, 0.5, generator=np.random.default_rng(0)) ** 2, lambda: (leaf(8),)),
    "batch_norm_train": (_bn_train, lambda: (leaf(4, 2, 3), leaf(2, seed=1), leaf(2, seed=2))),
    "batch_norm_eval": (_bn_eval, lambda: (leaf(3, 2), leaf(2, seed=1))),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (3,), w, b), lambda: (leaf(2, 3), leaf(3, seed=1),
                                                                          leaf(3, seed=2))),
    "normalize": (lambda x: F.normalize(x, dim=1), lambda: (leaf(2, 3),)),
    "normalize_p1": (lambda x: F.normalize(x, p=1.0, dim=0), lambda: (leaf(2, 3, away=0.2),)),
    "embedding": (lambda w: F.embedding(tw.tensor(np.array([[0, 2], [2, 1]])), w, padding_idx=1) ** 2,
                  lambda: (leaf(3, 2),)),
}

STRUCTURE = {
    "cumsum_roll": (lambda a: tw.roll(tw.cumsum(a, dim=1), 1, dims=0) ** 2, lambda: (leaf(2, 3),)),
    "diagonal_diag_embed_tril": (lambda a: tw.diag_embed(tw.diagonal(tw.tril(a * a))) * a.sum(),
                                 lambda: (leaf(3, 3),)),
    "einsum_batched": (lambda a, b: tw.einsum("bij,bjk->bik", a, b) ** 2, lambda: (leaf(2, 2, 3),
                                                                                  leaf(2, 3, 2, seed=1))),
    "einsum_broadcast_size_one": (lambda a, b: tw.einsum("ij,ij->i", a, b) ** 2, lambda: (leaf(3, 2),
                                                                                          leaf(1, 2, seed=1))),
    "einsum_repeated_index": (lambda a, b: tw.einsum("ii,i->i", a, b) * tw.einsum("ij->", a),
                              lambda: (leaf(3, 3), leaf(3, seed=1))),
}

_IDX = tw.tensor(np.array([[0, 2, 0], [1, 0, 1]]))
_ROWS = tw.tensor(np.array([2, 0]))
_MASK = tw.tensor(np.array([[True, False, True], [False, True, False], [True, True, False]]))

INDEXING = {
    "scatter": (lambda x, s: tw.scatter(x * x, 1, _IDX, s * s), lambda: (leaf(2, 3), leaf(2, 4, seed=1))),
    "scatter_add_mean": (lambda x, s: tw.scatter_add(x, 1, _IDX, s * x[:, :3].sum()) ** 2
                         + tw.scatter_reduce(x, 1, _IDX, s[:, :3] ** 2, "mean"),
                         lambda: (leaf(2, 3), leaf(2, 4, seed=1))),
    "scatter_reduce_amax": (lambda x, s: tw.scatter_reduce(x, 1, _IDX, s, "amax", include_self=False) * x,
                            lambda: (leaf(2, 3), leaf(2, 3, seed=1))),
    "index_add_copy": (lambda x, s: tw.index_add(x * x, 0, _ROWS, s, alpha=0.5) * tw.index_copy(x, 0, _ROWS, s * s),
                       lambda: (leaf(3, 3), leaf(2, 3, seed=1))),
    "masked_scatter": (lambda x, s: tw.masked_scatter(x, _MASK, s * s) * x, lambda: (leaf(3, 3), leaf(6, seed=1))),
}

CONV_POOL = {
    "conv_transpose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1) ** 2,
                         lambda: (leaf(1, 2, 2, 3), leaf(2, 1, 3, 2, seed=1), leaf(1, seed=2))),
    "conv_transpose2d_groups": (lambda x, w: F.conv_transpose2d(x, w, groups=2, dilation=2) ** 2,
                                lambda: (leaf(1, 2, 2, 2), leaf(2, 2, 2, 2, seed=1))),
    "group_norm": (lambda x, w, b: F.group_norm(x, 2, w, b) ** 2,
                   lambda: (leaf(2, 4, 3), leaf(4, seed=1), leaf(4, seed=2))),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, padding=1) ** 2,
               lambda: (leaf(1, 2, 3, 3), leaf(2, 2, 2, 2, seed=1), leaf(2, seed=2))),
    "conv2d_stride_groups_dilation": (
        lambda x, w: F.conv2d(x, w, stride=2, padding=1, dilation=(1, 2), groups=2) ** 2,
        lambda: (leaf(1, 2, 4, 5), leaf(4, 1, 2, 2, seed=1))),
    "conv1d": (lambda x, w: F.conv1d(x, w, padding=1) ** 2, lambda: (leaf(2, 2, 4), leaf(3, 2, 2, seed=1))),
    "conv2d_const_input": (lambda w: F.conv2d(const(1, 1, 3, 3), w) ** 2, lambda: (leaf(2, 1, 2, 2),)),
    "max_pool2d": (lambda x: F.max_pool2d(x * x, 2, stride=1), lambda: (leaf(1, 1, 3, 3),)),
    "max_pool1d": (lambda x: F.max_pool1d(x, 2) ** 2, lambda: (leaf(1, 2, 4),)),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 2, stride=1, padding=1) ** 2, lambda: (leaf(1, 1, 3, 3),)),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (2, 2)) ** 2, lambda: (leaf(1, 1, 3, 3),)),
}

def _recurrent(kind: str, **options: Any) -> Callable[..., Any]:
    from thalweg.ops import recurrent as RC

    fn = {"rnn": RC.RNNLayer, "lstm": RC.LSTMLayer, "gru": RC.GRULayer}[kind]

    def run(x: Any, w_hh: Any, b_ih: Any, *states: Any) -> Any:
        w_ih = const(w_hh.shape[0], 2, seed=6)  # W_ih's second derivatives: see the torch HVP tests
        return fn.apply(x, w_ih, w_hh, b_ih, const(w_hh.shape[0], seed=7), *states, **options)

    return run


def _rnn_inputs(gates: int, n_states: int) -> Callable[[], tuple[Any, ...]]:
    return lambda: ((leaf(2, 2, 2), leaf(2 * gates, 2, seed=2), leaf(2 * gates, seed=3))
                    + tuple(leaf(2, 2, seed=4 + k) for k in range(n_states)))


RECURRENT = {
    "rnn_tanh": (_recurrent("rnn"), _rnn_inputs(1, 1)),
    "rnn_relu_reverse": (_recurrent("rnn", nonlinearity="relu", reverse=True), _rnn_inputs(1, 1)),
    "lstm": (_recurrent("lstm"), _rnn_inputs(4, 2)),
    "lstm_lengths_reverse": (_recurrent("lstm", lengths=np.array([2, 1]), reverse=True), _rnn_inputs(4, 2)),
    "gru_lengths": (_recurrent("gru", lengths=np.array([1, 2])), _rnn_inputs(3, 1)),
}

_T = tw.tensor(np.array([0, 2, 1]))
_P = tw.tensor(np.random.default_rng(9).dirichlet(np.ones(3), size=3))

LOSSES = {
    "cross_entropy": (lambda x: F.cross_entropy(x, _T), lambda: (leaf(3, 3),)),
    "cross_entropy_options": (
        lambda x: F.cross_entropy(x, tw.tensor(np.array([0, -100, 1])), weight=tw.tensor(np.array([1.0, 2.0, 0.5])),
                                  label_smoothing=0.2),
        lambda: (leaf(3, 3),)),
    "cross_entropy_none_2d": (lambda x: F.cross_entropy(x, tw.tensor(np.array([[0, 1], [2, 2]])), reduction="none"),
                              lambda: (leaf(2, 3, 2),)),
    "cross_entropy_soft": (lambda x, q: F.cross_entropy(x, q, label_smoothing=0.1),
                           lambda: (leaf(3, 3), tw.tensor(_P.array.copy(), requires_grad=True))),
    "nll": (lambda x: F.nll_loss(F.log_softmax(x, dim=1), _T, reduction="sum"), lambda: (leaf(3, 3),)),
    "mse": (lambda x, t: F.mse_loss(x, t), lambda: (leaf(2, 3), leaf(2, 3, seed=1))),
    "l1": (lambda x, t: F.l1_loss(x * x, t), lambda: (leaf(2, 3), leaf(2, 3, seed=1))),
    "huber": (lambda x, t: F.huber_loss(x, t, delta=0.5, reduction="sum"), lambda: (leaf(2, 3), leaf(2, 3, seed=1))),
    "smooth_l1": (lambda x: F.smooth_l1_loss(x, const(2, 3), beta=0.7), lambda: (leaf(2, 3),)),
    "bce": (lambda x, t: F.binary_cross_entropy(F.sigmoid(x), t),
            lambda: (leaf(2, 3), tw.tensor(np.random.default_rng(2).uniform(0, 1, (2, 3)), requires_grad=True))),
    "bce_with_logits": (lambda x, t, w, p: F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=p),
                        lambda: (leaf(2, 3), tw.tensor(np.random.default_rng(2).uniform(0, 1, (2, 3)),
                                                       requires_grad=True), leaf(3, seed=3, low=0.5, high=1.5),
                                 leaf(3, seed=4, low=0.5, high=2.0))),
    "kl_div": (lambda x, t: F.kl_div(F.log_softmax(x, dim=1), t, reduction="batchmean"),
               lambda: (leaf(3, 3), tw.tensor(_P.array.copy(), requires_grad=True))),
    "kl_div_log_target": (lambda x, t: F.kl_div(x, t, reduction="sum", log_target=True),
                          lambda: (leaf(2, 3), leaf(2, 3, seed=1))),
    "cosine_similarity": (lambda a, b: F.cosine_similarity(a, b, dim=1), lambda: (leaf(2, 3), leaf(1, 3, seed=1))),
    "margin_ranking": (lambda a, b: F.margin_ranking_loss(a, b, tw.tensor(np.array([1.0, -1.0, 1.0])), margin=0.1),
                       lambda: (leaf(3, away=0.3), leaf(3, seed=1, away=0.3))),
}

CASES = {**ELEMENTWISE, **MATH, **REDUCTIONS, **SHAPES, **ACTIVATIONS, **LAYERS, **STRUCTURE, **INDEXING, **CONV_POOL,
         **RECURRENT, **LOSSES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradgradcheck(name: str) -> None:
    fn, make = CASES[name]
    check(fn, *make())
