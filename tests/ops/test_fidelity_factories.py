"""Factories with torch's keywords, tw.Generator, sampling functions, typed constructors, new_* methods, cuda probes."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw

torch = pytest.importorskip("torch")


def _same(ours: tw.Tensor, theirs: object) -> None:
    assert ours.shape == tuple(theirs.shape)  # type: ignore[attr-defined]
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")  # type: ignore[attr-defined]


@pytest.mark.parametrize("call", [
    ("zeros", (2, 3), {}), ("zeros", ((2, 3),), {}), ("zeros", (), {"size": (2, 3)}), ("ones", ([4],), {}),
    ("empty", (), {"size": (1, 2)}), ("full", ((2, 2), 1.5), {}), ("full", ((2,), 3), {}), ("full", ((2,), True), {}),
    ("eye", (3,), {}), ("eye", (2, 4), {"dtype": "float64"}), ("arange", (5,), {}), ("arange", (1, 4, 0.5), {}),
    ("arange", (0, 1, 0.1), {}), ("arange", (10, 0, -3), {}), ("arange", (), {"start": 2, "end": 7, "step": 2}),
    ("linspace", (0, 1, 5), {}), ("logspace", (0, 2, 3), {}), ("logspace", (0, 3, 4), {"base": 2.0}),
    ("rand", (2, 3), {}), ("randn", ((3,),), {}), ("randint", (10, (3, 2)), {}), ("randint", (3, 10, (4,)), {}),
    ("randint", (), {"low": 2, "high": 5, "size": (2,)}), ("randperm", (6,), {}), ("tensor", ([1, 2],), {}),
    ("tensor", ([1.0, 2.0],), {"dtype": "float64"}), ("as_tensor", ([[1, 2]],), {}),
])
def test_factory_matches_torch_shape_dtype_and_accepts_device(call: tuple) -> None:
    name, args, kwargs = call
    kw_ours = {k: (getattr(tw, v) if k == "dtype" else v) for k, v in kwargs.items()}
    kw_torch = {k: (getattr(torch, v) if k == "dtype" else v) for k, v in kwargs.items()}
    ours = getattr(tw, name)(*args, device="cpu", **kw_ours)
    theirs = getattr(torch, name)(*args, device="cpu", **kw_torch)
    _same(ours, theirs)
    if name in ("zeros", "ones", "full", "eye", "arange", "linspace", "logspace", "tensor", "as_tensor"):
        np.testing.assert_allclose(ours.array, theirs.numpy(), rtol=1e-6)
    if name not in ("tensor", "as_tensor") and "dtype" not in kwargs and ours.dtype.kind == "f":
        assert getattr(tw, name)(*args, device=tw.device("cpu"), requires_grad=True, **kw_ours).requires_grad


def test_like_and_new_constructors() -> None:
    x = tw.zeros(2, 3, dtype=tw.float64)
    for name in ("zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"):
        out = getattr(tw, name)(x, device="cpu")
        assert out.shape == (2, 3) and out.dtype == np.float64, name
    assert tw.full_like(x, 7).array.max() == 7 and tw.randint_like(x, 5).array.max() < 5
    assert tw.randint_like(x, 3, 5).array.min() >= 3
    xt = torch.zeros(2, 3, dtype=torch.float64)
    for name, args in (("new_zeros", ((4,),)), ("new_ones", (2, 2)), ("new_full", ((3,), 2.5)),
                       ("new_empty", ((1, 2),)), ("new_tensor", ([1, 2],))):
        _same(getattr(x, name)(*args), getattr(xt, name)(*args))
    assert x.new_zeros(2, dtype=tw.int64).dtype == np.int64
    assert x.new_tensor([1.0]).requires_grad is False


def test_device_out_and_unknown_keywords() -> None:
    with pytest.raises(RuntimeError, match="cuda.*not available"):
        tw.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="randn"):
        tw.randn(2, device=tw.device("cuda:0"))
    with pytest.raises(TypeError, match="out="):
        tw.ones(2, out=tw.zeros(2))
    with pytest.raises(TypeError, match="unexpected keyword"):
        tw.arange(3, colour="red")
    assert tw.zeros(2, layout=None, pin_memory=False).shape == (2,)
    assert tw.cuda.is_available() is False and tw.cuda.device_count() == 0
    assert tw.backends.mps.is_available() is False
    tw.backends.cudnn.deterministic = True
    assert str(tw.device("cpu")) == "cpu"


def test_generator_objects() -> None:
    g = tw.Generator()
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    a = tw.randn(4, generator=tw.Generator().manual_seed(5))
    b = tw.randn(4, generator=g)
    np.testing.assert_array_equal(a.array, b.array)
    state = g.get_state()
    c = tw.rand(3, generator=g)
    g.set_state(state)
    np.testing.assert_array_equal(tw.rand(3, generator=g).array, c.array)
    s = g.seed()
    assert g.initial_seed() == s
    assert tw.Generator().initial_seed() == torch.Generator().initial_seed()
    for fn in (lambda gen: tw.randperm(5, generator=gen), lambda gen: tw.randint(0, 9, (3,), generator=gen),
               lambda gen: tw.multinomial(tw.ones(5), 3, generator=gen), lambda gen: tw.normal(0.0, 1.0, (3,),
                                                                                             generator=gen),
               lambda gen: tw.bernoulli(tw.full((4,), 0.5), generator=gen)):
        np.testing.assert_array_equal(fn(tw.Generator().manual_seed(1)).array, fn(tw.Generator().manual_seed(1)).array)
    with pytest.raises(TypeError, match="generator"):
        tw.randn(2, generator=42)


def test_sampling_functions() -> None:
    g = tw.Generator().manual_seed(0)
    w = tw.tensor([[0.0, 1.0, 3.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    s = tw.multinomial(w, 2, generator=g)
    assert s.shape == (2, 2) and s.dtype == np.int64
    assert set(s.array[0].tolist()) == {1, 2}  # without replacement: the two nonzero categories
    many = tw.multinomial(tw.tensor([0.2, 0.8]), 4000, replacement=True, generator=g)
    assert abs(many.array.mean() - 0.8) < 0.03
    with pytest.raises(RuntimeError, match="without replacement"):
        tw.multinomial(tw.ones(3), 4)
    with pytest.raises(RuntimeError, match="multinomial"):
        tw.multinomial(tw.tensor([-1.0, 2.0]), 1)
    n = tw.normal(tw.tensor([0.0, 10.0]), tw.tensor([1.0, 0.0]), generator=g)
    assert n.shape == (2,) and n.array[1] == 10.0
    b = tw.bernoulli(tw.tensor([0.0, 1.0, 1.0]), generator=g)
    np.testing.assert_array_equal(b.array, [0.0, 1.0, 1.0])
    assert tw.poisson(tw.full((1000,), 3.0), generator=g).array.mean() == pytest.approx(3.0, abs=0.2)
    x = tw.zeros(1000)
    x.bernoulli_(0.25, generator=g)
    assert set(np.unique(x.array)) <= {0.0, 1.0} and abs(x.array.mean() - 0.25) < 0.05
    assert tw.zeros(5, dtype=tw.int64).random_(3).array.max() < 3


def test_typed_constructors_and_dtype_aliases() -> None:
    for name in ("FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor", "ByteTensor"):
        ours, theirs = getattr(tw, name)([1, 0, 2]), getattr(torch, name)([1, 0, 2])
        _same(ours, theirs)
        np.testing.assert_array_equal(ours.array, theirs.numpy())
        _same(getattr(tw, name)(2, 3), getattr(torch, name)(2, 3))
        assert isinstance(ours, getattr(tw, name)) and isinstance(ours, tw.Tensor)
    assert not isinstance(tw.zeros(2), tw.LongTensor)
    assert tw.float == tw.float32 and tw.long == tw.int64 and tw.double == tw.float64 and tw.int == tw.int32
    assert tw.get_default_dtype() == tw.float32


def test_size() -> None:
    s = tw.Size([2, 3])
    assert s == (2, 3) and s.numel() == torch.Size([2, 3]).numel() and isinstance(s, tuple)
    assert tw.zeros(s).shape == (2, 3) and tw.Tensor(s).shape == (2, 3)
