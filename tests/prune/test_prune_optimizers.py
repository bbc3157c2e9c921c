"""Pruned weights stay exactly zero while the network retrains, under every optimizer of the registry."""

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn, optim, prune
from thalweg.optim import transforms as T
from thalweg.optim.registry import OPTIMIZERS

from prune_helpers import blobs, mlp, train_steps

CASES = [(name, kw) for name, entry in OPTIMIZERS.items()
         for kw in (dict(entry.test_kwargs),) + tuple(dict(v) for v in entry.variants)]


def _pruned_zero(model, masks):
    return all(np.all(p.array[~masks[n]] == 0) for n, p in model.named_parameters() if n in masks)


def _warm_then_prune(opt_factory, kwargs, steps=15):
    """Train dense for a while (momentum, moments, accumulators fill up), then prune and keep training."""
    x, y = blobs()
    model = mlp()
    opt = opt_factory(model.parameters(), **kwargs)
    train_steps(model, opt, x, y, steps, seed=1)
    masks = prune.prune_layers(model, 0.6)
    return model, masks, opt, x, y


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_masks_survive_every_registered_optimizer(name, kwargs):
    model, masks, opt, x, y = _warm_then_prune(OPTIMIZERS[name].factory, kwargs)
    kept_before = {n: p.array[masks[n]].copy() for n, p in model.named_parameters() if n in masks}
    wrapped = masks.wrap(opt)
    train_steps(model, wrapped, x, y, 15, seed=2)
    assert _pruned_zero(model, masks)
    # the kept weights did train
    moved = [not np.allclose(p.array[masks[n]], kept_before[n]) for n, p in model.named_parameters() if n in masks]
    assert any(moved)


def test_momentum_without_the_wrapper_would_revive_pruned_weights():
    # the reason for the wrapper: the hook zeroes gradients, but SGD's velocity from before pruning moves on
    model, masks, opt, x, y = _warm_then_prune(optim.SGD, {"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-3})
    train_steps(model, opt, x, y, 3, seed=2)
    assert not _pruned_zero(model, masks)


def test_gradient_hook_zeroes_pruned_gradients_in_backward():
    x, y = blobs()
    model = mlp()
    masks = prune.prune_layers(model, 0.7)
    nn.functional.cross_entropy(model(tw.tensor(x[:20])), tw.tensor(y[:20])).backward()
    for n, p in model.named_parameters():
        if n in masks:
            assert np.all(p.grad[~masks[n]] == 0)
            assert np.any(p.grad[masks[n]] != 0)


def test_gradient_noise_chain_and_hand_set_gradients():
    x, y = blobs()
    model = mlp()
    masks = prune.prune_layers(model, 0.5)
    chain = T.chain(T.add_gradient_noise(eta=1.0, seed=0), T.scale_by_momentum(0.9), T.add_decayed_weights(0.1),
                    T.scale_by_learning_rate(0.05))
    opt = masks.wrap(optim.Optimizer(model.named_parameters(), chain))
    train_steps(model, opt, x, y, 10)
    assert _pruned_zero(model, masks)
    for p in model.parameters():  # gradients written by hand, bypassing backward's hook
        p.grad = np.ones_like(p.array)
    opt.step()
    assert _pruned_zero(model, masks)


def test_lbfgs_with_closure():
    if not hasattr(optim, "LBFGS"):
        pytest.skip("optim.LBFGS is not built yet")
    x, y = blobs(n=80)
    model = mlp()
    masks = prune.prune_layers(model, 0.6)
    opt = masks.wrap(optim.LBFGS(model.parameters(), lr=0.5, max_iter=10))
    xt, yt = tw.tensor(x), tw.tensor(y)

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        return loss

    first = float(closure().array)
    for _ in range(3):
        opt.step(closure)
    assert _pruned_zero(model, masks)
    assert float(closure().array) < first


def test_wrapper_is_the_optimizer_to_schedules_and_state_dicts():
    model = mlp()
    masks = prune.prune_layers(model, 0.5)
    base = optim.SGD(model.named_parameters(), lr=0.1, momentum=0.9)
    opt = masks.wrap(base)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x, y = blobs()
    train_steps(model, opt, x, y, 2)
    sched.step()
    assert base.param_groups[0]["lr"] == pytest.approx(0.05)
    assert opt.param_groups is base.param_groups
    opt.load_state_dict(opt.state_dict())
    with pytest.raises(TypeError, match="already wrapped"):
        masks.wrap(opt)


def test_later_rounds_take_effect_without_rewrapping():
    x, y = blobs()
    model = mlp()
    masks = prune.prune_layers(model, 0.3)
    opt = masks.wrap(optim.Adam(model.parameters(), lr=0.01))
    train_steps(model, opt, x, y, 5)
    prune.prune_layers(model, 0.8)
    train_steps(model, opt, x, y, 5)
    assert all(masks.total(n) - masks.kept(n) == round(0.8 * masks.total(n)) for n in masks)
    assert _pruned_zero(model, masks)


def test_fit_with_a_wrapped_optimizer_keeps_zeros():
    from thalweg.train import fit

    x, y = blobs()
    model = mlp()
    masks = prune.prune_layers(model, 0.75)
    opt = masks.wrap(optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.1))
    r = fit(model, opt, (x[:200], y[:200]), (x[200:], y[200:]), epochs=3, batch_size=32, seed=0, verbose=False,
            clip_grad_norm=1.0)
    assert r.history and _pruned_zero(model, masks)


def test_same_trajectory_as_torch_prune():
    """Retraining with fixed masks matches torch.nn.utils.prune (weight = weight_orig * mask) step for step."""
    torch = pytest.importorskip("torch")
    from torch.nn.utils import prune as tprune

    x, y = blobs(n=64)
    model = mlp()
    masks = prune.prune_layers(model, 0.6)
    tmodel = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10),
                                 torch.nn.ReLU(), torch.nn.Linear(10, 3)).double()
    tmodel.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in model.state_dict().items()})
    for i in (0, 2, 4):
        tprune.custom_from_mask(tmodel[i], "weight", torch.tensor(masks[f"{i}.weight"]))
    model.double()
    opt = masks.wrap(optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-2, nesterov=True))
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-2, nesterov=True)
    rng = np.random.default_rng(0)
    for _ in range(8):
        idx = rng.integers(0, len(x), size=16)
        xb, yb = x[idx].astype(np.float64), y[idx]
        loss = nn.functional.cross_entropy(model(tw.tensor(xb)), tw.tensor(yb))
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = torch.nn.functional.cross_entropy(tmodel(torch.tensor(xb)), torch.tensor(yb))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        assert float(loss.array) == pytest.approx(tloss.item(), rel=1e-10)
    for i in (0, 2, 4):
        effective = (tmodel[i].weight_orig * tmodel[i].weight_mask).detach().numpy()  # .weight is set in forward
        np.testing.assert_allclose(model[i].weight.array, effective, rtol=1e-10, atol=1e-12)
