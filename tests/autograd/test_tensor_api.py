"""The Tensor itself: dtype rules, refused inputs, in-place ops, and what a PyTorch user expects."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw


# ------------------------------------------------------------------- dtype rules
def test_python_data_becomes_float32_int64_bool() -> None:
    assert tw.tensor([1.0, 2.0]).dtype == np.float32
    assert tw.tensor(3.5).dtype == np.float32
    assert tw.tensor([[1, 2]]).dtype == np.int64
    assert tw.tensor([True]).dtype == np.bool_
    assert tw.tensor([]).dtype == np.float32
    assert tw.zeros(2).dtype == tw.randn(2).dtype == tw.rand(2).dtype == tw.ones(1).dtype == np.float32
    assert tw.arange(3).dtype == np.int64 and tw.arange(0.0, 1.0, 0.5).dtype == np.float32


def test_ndarray_dtype_is_kept() -> None:
    assert tw.tensor(np.zeros(2)).dtype == np.float64
    assert tw.tensor(np.zeros(2, np.float32)).dtype == np.float32
    assert tw.tensor(np.zeros(2, np.int32)).dtype == np.int32
    assert tw.tensor(np.float64(1.5)).dtype == np.float64  # a NumPy scalar too, as torch.tensor
    assert tw.tensor(np.zeros(2), dtype=tw.float32).dtype == np.float32
    for spelling in (tw.float64, np.float64, "float64", "torch.float64", tw.double):
        assert tw.tensor([1.0], dtype=spelling).dtype == np.float64


def test_nothing_upcasts_float32() -> None:
    x = tw.randn(3, requires_grad=True)
    results = [x * 2.5, 2.5 * x, x / 3.0, x + 1, x ** 2, 2.0 ** x, x * np.float64(2.0), x * np.sqrt(2.0),
               x + np.ones(3), np.ones(3) - x, x * [1.0, 2.0, 3.0], tw.where(x > 0, x, 0.0),
               tw.where(x > 0, 1.0, 0.0), x.clamp(-0.5, 0.5), tw.maximum(x, 0.0), x.masked_fill(x > 0, 1.0),
               x.mean(), x.var(), x.std(), x.softmax(dim=0), x.gelu(), x.sigmoid(), np.ones((2, 3)) @ x]
    for r in results:
        assert r.dtype == np.float32, r
    r = (x * np.float64(3.0)).sum()
    r.backward()
    assert x.grad.dtype == np.float32


def test_integer_tensors_promote_like_torch() -> None:
    i = tw.tensor([1, 2, 3])
    assert (i * 2).dtype == np.int64
    assert (i * 2.5).dtype == np.float32 and (2.5 * i).dtype == np.float32
    assert (i / 2).dtype == np.float32 and (1 / i).dtype == np.float32
    assert (i + tw.ones(3, dtype=tw.float64)).dtype == np.float64
    assert i.float().mean().dtype == np.float32 and i.mean().dtype == np.float32
    assert i.exp().dtype == np.float32 and i.sigmoid().dtype == np.float32
    assert tw.tensor([True, False]).sum().item() == 1


@pytest.mark.parametrize("bad", [np.array([1 + 2j]), np.array([object()], dtype=object), np.array(["a"]),
                                 "hello", [1 + 1j], np.array([1], dtype=np.uint32)])
def test_unsupported_dtypes_are_refused(bad: object) -> None:
    with pytest.raises(TypeError, match="unsupported dtype"):
        tw.tensor(bad)


@pytest.mark.parametrize("dtype", [complex, np.complex64, "complex128", object, str, "U3"])
def test_unsupported_dtype_arguments_are_refused(dtype: object) -> None:
    with pytest.raises(TypeError, match="unsupported dtype"):
        tw.zeros(2, dtype=dtype)
    with pytest.raises(TypeError, match="unsupported dtype"):
        tw.tensor([1.0], dtype=dtype)


def test_only_floating_tensors_can_require_grad() -> None:
    with pytest.raises(TypeError, match="only floating point tensors can require gradients.*int64"):
        tw.tensor([1, 2], requires_grad=True)
    i = tw.tensor([1, 2])
    with pytest.raises(TypeError, match="floating"):
        i.requires_grad_()
    with pytest.raises(TypeError, match="floating"):
        i.requires_grad = True
    with pytest.raises(TypeError, match="floating"):
        tw.zeros(2, dtype=tw.bool_, requires_grad=True)
    f = tw.tensor([1.0])
    f.requires_grad = True
    assert f.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        (f * 2.0).requires_grad_(False)


# -------------------------------------------------------------------- in place
def test_in_place_on_a_tensor_requiring_grad_needs_no_grad() -> None:
    w = tw.ones(3, requires_grad=True)
    for op in (lambda: w.__iadd__(1.0), lambda: w.mul_(2.0), lambda: w.zero_(), lambda: w.fill_(1.0),
               lambda: w.copy_(np.zeros(3)), lambda: w.clamp_(0.0, 1.0), lambda: w.__setitem__(0, 5.0),
               lambda: w.add_(w, alpha=-0.1), lambda: w.normal_()):
        with pytest.raises(RuntimeError, match="in place.*no_grad"):
            op()
    np.testing.assert_array_equal(w.numpy(), [1.0, 1.0, 1.0])
    with tw.no_grad():
        w += 1.0
        w.mul_(3.0)
        w.sub_(tw.ones(3), alpha=2.0)
        w[0] = -1.0
        w.clamp_(min=0.0)
    np.testing.assert_array_equal(w.numpy(), [0.0, 4.0, 4.0])
    assert w.is_leaf and w.requires_grad


def test_in_place_on_plain_tensors_is_allowed() -> None:
    x = tw.zeros(2, 2)
    x += 1.0
    x[0, 0] = 5.0
    x[tw.tensor([1])] = tw.tensor([7.0, 8.0])
    x.div_(2.0)
    np.testing.assert_array_equal(x.numpy(), [[2.5, 0.5], [3.5, 4.0]])
    assert x.dtype == np.float32


# ------------------------------------------------------------- PyTorch habits
def test_tensors_hash_by_identity_despite_elementwise_eq() -> None:
    a, b = tw.zeros(2), tw.zeros(2)
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b"
    assert len({a, b, a}) == 2
    assert (a == b).numpy().all()  # == stays elementwise


def test_grad_is_a_tensor_over_an_ndarray_and_numpy_shares_memory() -> None:
    x = tw.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert type(x.grad) is tw.Tensor and type(x.grad.array) is np.ndarray
    arr = x.numpy()
    assert np.shares_memory(arr, x.array)
    assert np.asarray(x) is not None and np.asarray(x).dtype == np.float32
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and np.shares_memory(d.array, x.array)


def test_item_tolist_len_iter_and_bool() -> None:
    x = tw.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.sum().item() == 10.0 and isinstance(x.sum().item(), float)
    assert x.argmax().item() == 3 and isinstance(x.argmax().item(), int)
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert len(x) == 2 and [r.shape for r in x] == [(2,), (2,)]
    assert bool(tw.tensor([1.0])) and float(tw.tensor(2.5)) == 2.5 and int(tw.tensor(3)) == 3
    with pytest.raises(ValueError, match="only one-element"):
        x.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    assert [10, 20, 30][tw.tensor(1)] == 20  # __index__


def test_argmax_masked_fill_numel() -> None:
    out = tw.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    pred = out.argmax(dim=1, keepdim=True)
    assert pred.shape == (2, 1) and pred.dtype == np.int64 and pred.tolist() == [[1], [0]]
    assert out.argmax(1).tolist() == [1, 0] and out.argmin(axis=0).tolist() == [0, 1, 0]
    assert out.numel() == 6
    x = tw.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.masked_fill(tw.tensor([True, False, True]), -1.0)
    assert y.tolist() == [-1.0, 2.0, -1.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_manual_seed_makes_randomness_reproducible() -> None:
    tw.manual_seed(123)
    a = (tw.randn(3, 2), tw.rand(4), tw.randint(0, 10, (5,)), tw.randperm(6))
    tw.manual_seed(123)
    b = (tw.randn(3, 2), tw.rand(4), tw.randint(0, 10, (5,)), tw.randperm(6))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert not np.array_equal(tw.randn(3, 2).numpy(), a[0].numpy())  # the stream moves on
    g = tw.Generator(5)
    np.testing.assert_array_equal(tw.randn(3, generator=g).numpy(), tw.randn(3, generator=tw.Generator(5)).numpy())
    with pytest.raises(ValueError, match="seed"):
        tw.manual_seed(-1)


def test_repr_shows_dtype_and_grad_fn() -> None:
    x = tw.tensor([1.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=<MulBackward>" in repr(x * 2.0)
    assert "dtype=float64" in repr(tw.tensor([1.0], dtype=tw.float64))


# --------------------------------------------------------------------- errors
def test_matmul_shape_mismatch_names_the_op_and_both_shapes() -> None:
    a, b = tw.zeros(32, 784), tw.zeros(100, 10)
    with pytest.raises(ValueError) as info:
        a @ b
    assert str(info.value) == "shape mismatch in matmul: (32, 784) @ (100, 10)"
    with pytest.raises(ValueError, match=r"shape mismatch in matmul: \(3,\) @ \(4,\)"):
        tw.zeros(3) @ tw.zeros(4)
    with pytest.raises(ValueError, match=r"shape mismatch in matmul: \(2, 3, 4\) @ \(5, 4, 6\)"):
        tw.zeros(2, 3, 4) @ tw.zeros(5, 4, 6)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        tw.zeros(3) @ 2.0


def test_broadcast_mismatch_names_the_op_and_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"shape mismatch in add: \(2, 3\) and \(4,\)"):
        tw.zeros(2, 3) + tw.zeros(4)
    with pytest.raises(ValueError, match=r"shape mismatch in mul: \(2, 3\) and \(2,\)"):
        tw.zeros(2, 3) * np.zeros(2)


def test_shape_op_errors_name_the_shapes() -> None:
    x = tw.zeros(2, 3)
    with pytest.raises(ValueError, match=r"reshape: cannot view a tensor of shape \(2, 3\)"):
        x.reshape(4, 2)
    with pytest.raises(IndexError, match=r"invalid for a tensor of shape \(2, 3\)"):
        x[5]
    with pytest.raises(IndexError, match="dimension 3 out of range"):
        x.sum(dim=3)
    with pytest.raises(ValueError, match="cat: shapes"):
        tw.cat([x, tw.zeros(2, 4)])
    with pytest.raises(ValueError, match="expand: cannot broadcast"):
        x.expand(4, 3)
    with pytest.raises(ValueError, match="split: sizes"):
        x.split([1, 1], dim=1)
