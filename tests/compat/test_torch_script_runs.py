"""The yardstick of DESIGN.md: a typical PyTorch training script runs after changing its imports.

The script below is written in the style of PyTorch's own MNIST example
(``pytorch/examples/mnist/main.py``): a ``Net`` class with conv, dropout and
``F.log_softmax``, ``optim.Adadelta`` with ``StepLR``, ``train``/``test``
functions that move data ``.to(device)``, ``F.nll_loss``,
``output.argmax(dim=1, keepdim=True)`` and ``pred.eq(target.view_as(pred))``.
Only the imports differ (and the data, which is synthetic and small).
The same source is run with thalweg and with torch, and both must learn.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent('''
    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = nn.Conv2d(1, 8, 3, 1)
            self.conv2 = nn.Conv2d(8, 16, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(16 * 4 * 4, 32)
            self.fc2 = nn.Linear(32, 2)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output


    def train(model, device, train_loader, optimizer, epoch):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()


    def test(model, device, test_loader):
        model.eval()
        test_loss = 0
        correct = 0
        with torch.no_grad():
            for data, target in test_loader:
                data, target = data.to(device), target.to(device)
                output = model(data)
                test_loss += F.nll_loss(output, target, reduction='sum').item()
                pred = output.argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
        test_loss /= len(test_loader.dataset)
        return test_loss, correct / len(test_loader.dataset)


    def main(images, labels):
        torch.manual_seed(1)
        device = torch.device("cpu")
        dataset = TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))
        train_loader = DataLoader(dataset, batch_size=32, shuffle=True)
        test_loader = DataLoader(dataset, batch_size=100)
        model = Net().to(device)
        optimizer = optim.Adadelta(model.parameters(), lr=1.0)
        scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
        before = test(model, device, test_loader)
        for epoch in range(1, 6):
            train(model, device, train_loader, optimizer, epoch)
            scheduler.step()
        after = test(model, device, test_loader)
        return before, after, scheduler.get_last_lr()
''')


def _data() -> tuple[np.ndarray, np.ndarray]:
    """Two classes of 12x12 images: a bright vertical or a bright horizontal bar, with noise."""
    rng = np.random.default_rng(0)
    n = 256
    labels = rng.integers(0, 2, n).astype(np.int64)
    images = rng.normal(0, 0.3, (n, 1, 12, 12)).astype(np.float32)
    pos = rng.integers(2, 10, n)
    for i in range(n):
        if labels[i]:
            images[i, 0, :, pos[i]] += 2.0
        else:
            images[i, 0, pos[i], :] += 2.0
    return images, labels


def _run(namespace: dict) -> tuple:
    exec(compile(SCRIPT, "pytorch_style_script.py", "exec"), namespace)  # noqa: S102 - our own fixed source
    result = namespace["main"](*_data())
    print(namespace["torch"].__name__, result)
    return result


def test_the_script_trains_with_thalweg() -> None:
    import thalweg as torch
    import thalweg.nn.functional as F
    from thalweg import nn, optim
    from thalweg.data import DataLoader, TensorDataset
    from thalweg.optim.lr_scheduler import StepLR

    ns = dict(torch=torch, nn=nn, F=F, optim=optim, StepLR=StepLR, DataLoader=DataLoader, TensorDataset=TensorDataset)
    (loss0, acc0), (loss1, acc1), last_lr = _run(ns)
    assert loss1 < 0.5 * loss0
    assert acc1 >= 0.9 > acc0 - 0.2
    assert last_lr == pytest.approx([0.7 ** 5])


def test_the_same_script_trains_with_torch() -> None:
    """The control: the unchanged source is a valid PyTorch program with the same behaviour."""
    torch = pytest.importorskip("torch")
    from torch import nn, optim
    from torch.nn import functional as F
    from torch.optim.lr_scheduler import StepLR
    from torch.utils.data import DataLoader, TensorDataset

    ns = dict(torch=torch, nn=nn, F=F, optim=optim, StepLR=StepLR, DataLoader=DataLoader, TensorDataset=TensorDataset)
    (loss0, acc0), (loss1, acc1), last_lr = _run(ns)
    assert loss1 < 0.5 * loss0
    assert acc1 >= 0.9
    assert last_lr == pytest.approx([0.7 ** 5])
