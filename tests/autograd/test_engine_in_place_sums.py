"""The engine adds gradients in place only into sums it owns (``engine.accumulate``, ``Function.backward_into``).

Each case compares with torch; the cases are the ways an in-place sum could leak: a gradient seen by a hook or
kept by ``retain_grad``, an op that passes its gradient through to two inputs, a tensor used several times.
"""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg.autograd import engine
from thalweg.ops import shape as S

torch = pytest.importorskip("torch")


def _both(fn, *arrays):
    ours = [tw.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    seen_ours, seen_theirs = [], []
    fn(tw, ours, seen_ours).backward()
    fn(torch, theirs, seen_theirs).backward()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(seen_ours, seen_theirs):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12)


def test_split_chunk_unbind_gradients_match_torch():
    x = np.random.default_rng(0).standard_normal((4, 9))

    def f(lib, ts, seen):
        h = ts[0] * 2.0  # a non-leaf: its pieces' gradients are summed in the engine
        a, b, c = h.split(3, dim=1)
        p, q = h.chunk(2, dim=0)
        rows = h.unbind(0)
        return (a * b).sum() + (c ** 2).sum() + (p * 3).sum() + q.sum() + (rows[1] * rows[3]).sum() + h.sum()

    _both(f, x)


def test_hooks_and_retained_gradients_are_not_changed_by_later_sums():
    x = np.random.default_rng(1).standard_normal((3, 6))

    def f(lib, ts, seen):
        h = ts[0] * 1.5
        h.retain_grad()
        a, b = h.split(3, dim=1)
        a.register_hook(lambda g: seen.append(g))  # a reference: a later in-place sum would show in it
        b.retain_grad()
        loss = (a * a).sum() + (b * 4).sum() + (h[1:] * h[:-1]).sum()
        seen.append(h)  # checked after backward, below
        return loss

    ours = tw.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    so, st = [], []
    lo = f(tw, [ours], so)
    lt = f(torch, [theirs], st)
    lo.backward()
    lt.backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(so[0].grad.numpy(), st[0].grad.numpy(), rtol=1e-12)  # h's retained gradient
    np.testing.assert_allclose(so[1].numpy(), st[1].detach().numpy(), rtol=1e-12)  # what the hook saw, unchanged
    np.testing.assert_allclose(so[0].grad.numpy()[:, :3], so[1].numpy() + (so[0] * 0).numpy()[:, :3]
                               + _neighbour_terms(so[0].detach().numpy()), rtol=1e-12)


def _neighbour_terms(h):
    """d/dh of sum(h[1:] * h[:-1]) on the first three columns."""
    d = np.zeros_like(h)
    d[1:] += h[:-1]
    d[:-1] += h[1:]
    return d[:, :3]


def test_a_gradient_passed_to_two_inputs_is_not_added_into():
    x, y = np.random.default_rng(2).standard_normal((2, 5, 4))

    def f(lib, ts, seen):
        s = ts[0] * 1.0 + ts[1] * 1.0  # Add's backward hands the same array to both operands
        u = s + s  # and here to one input twice
        parts = u.split(2, dim=1)
        return (parts[0] * ts[0][:, :2]).sum() + (parts[1] ** 2).sum() + (s * ts[1]).sum()

    _both(f, x, y)


def test_the_engine_takes_the_in_place_path_for_split(monkeypatch):
    calls = []
    original = S.GetItem.backward_into

    def spy(ctx, grad, acc):
        calls.append(acc.shape)
        return original(ctx, grad, acc)

    monkeypatch.setattr(S.GetItem, "backward_into", staticmethod(spy))
    h = tw.tensor(np.ones((2, 6)), requires_grad=True) * 2.0
    a, b, c = h.split(2, dim=1)
    (a.sum() + 2 * b.sum() + 3 * c.sum()).backward()
    assert calls == [(2, 6), (2, 6)]  # the first piece's zero array, then two additions into it
    assert callable(engine.accumulate)
