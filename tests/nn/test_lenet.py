"""A LeNet-5-style CNN: it learns a small synthetic image task, and one step matches PyTorch."""

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg import nn


def lenet() -> nn.Sequential:
    """conv 1->6 5x5, pool, conv 6->16 5x5, pool, 256->120->84->10 (28x28 input)."""
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84),
                         nn.ReLU(), nn.Linear(84, 10))


def strokes(n_per_class: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """10 classes of 28x28 images: each class is a bar at its own angle and place, drawn with
    random shifts and noise, so the classes differ by local shape, what convolutions pick up."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:28, 0:28]
    xs, ys = [], []
    for label in range(10):
        angle = np.pi * label / 10
        for _ in range(n_per_class):
            cy, cx = 14 + rng.integers(-3, 4), 14 + rng.integers(-3, 4)
            dist = np.abs((rows - cy) * np.cos(angle) - (cols - cx) * np.sin(angle))
            along = np.abs((rows - cy) * np.sin(angle) + (cols - cx) * np.cos(angle))
            img = ((dist < 1.5) & (along < 6 + label % 3 * 2)).astype(np.float32)
            xs.append(img + 0.3 * rng.standard_normal((28, 28)).astype(np.float32))
            ys.append(label)
    return np.stack(xs)[:, None], np.array(ys, dtype=np.int64)


def test_lenet_loss_falls_with_manual_sgd():
    tw.manual_seed(0)
    x, y = strokes()
    model = lenet()
    rng = np.random.default_rng(1)
    losses = []
    for epoch in range(16):
        order = rng.permutation(len(y))
        for start in range(0, len(y), 32):
            idx = order[start:start + 32]
            loss = F.cross_entropy(model(tw.tensor(x[idx])), tw.tensor(y[idx]))
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.array -= 0.15 * p.grad
            losses.append(loss.item())
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    assert first > 2.0  # chance level is ln 10 = 2.3
    assert last < 0.4 * first, (first, last)
    with tw.no_grad():
        accuracy = (model(tw.tensor(x)).array.argmax(1) == y).mean()
    assert accuracy > 0.8


def test_lenet_step_matches_torch():
    torch = pytest.importorskip("torch")
    T = torch.nn
    torch.manual_seed(0)
    theirs = T.Sequential(T.Conv2d(1, 6, 5), T.ReLU(), T.MaxPool2d(2), T.Conv2d(6, 16, 5), T.ReLU(),
                          T.MaxPool2d(2), T.Flatten(), T.Linear(256, 120), T.ReLU(), T.Linear(120, 84), T.ReLU(),
                          T.Linear(84, 10))
    ours = lenet()
    ours.load_state_dict(theirs.state_dict())
    x, y = strokes(n_per_class=4, seed=2)
    loss = F.cross_entropy(ours(tw.tensor(x)), tw.tensor(y))
    loss.backward()
    loss_t = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
    loss_t.backward()
    np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=1e-5)
    grads_t = {k: p.grad.numpy() for k, p in theirs.named_parameters()}
    for name, p in ours.named_parameters():
        g = grads_t[name]
        np.testing.assert_allclose(p.grad, g, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(g).max())), err_msg=name)
