"""ResNet benchmark cases (speed issue round 2, item 2).

A small residual CNN on CIFAR-shaped input (32x32x3): a 3x3 stem, three
stages of two basic blocks each (two 3x3 convolutions with BatchNorm and ReLU,
an identity skip, or a 1x1 strided projection with BatchNorm where the shape
changes; stride 2 at each stage transition), global average pooling and a
linear head -- the ResNet-20 layout of He et al. (2016), with two blocks per
stage instead of three.  Trained by SGD with momentum and weight decay.

The model class is written once against a ``lib`` argument (``torch`` or
``thalweg``) and built twice; thalweg's weights and BatchNorm buffers are
copied from torch's ``state_dict``, so the first step's losses must agree (the
smoke test checks it).  Cases ``resnet_b32`` and ``resnet_b128``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

Step = Callable[[], float]


def resnet_classes(lib: Any) -> Any:
    """The small ResNet for one library."""
    nn = lib.nn
    F = lib.nn.functional

    class BasicBlock(nn.Module):
        def __init__(self, c_in: int, c_out: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.shortcut = nn.Sequential()
            if stride != 1 or c_in != c_out:
                self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                              nn.BatchNorm2d(c_out))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + self.shortcut(x))

    class ResNet(nn.Module):
        def __init__(self, widths: tuple[int, int, int] = (16, 32, 64), blocks: int = 2, classes: int = 10) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, widths[0], 3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(widths[0])
            layers, c_in = [], widths[0]
            for stage, c_out in enumerate(widths):
                for b in range(blocks):
                    layers.append(BasicBlock(c_in, c_out, 2 if (stage > 0 and b == 0) else 1))
                    c_in = c_out
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(widths[-1], classes)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layers(out)
            out = F.adaptive_avg_pool2d(out, 1)
            return self.fc(lib.flatten(out, 1))

    return ResNet


def _resnet(batch: int) -> Callable[[bool], tuple[Step, Step]]:
    def build(quick: bool) -> tuple[Step, Step]:
        import torch

        import thalweg as tw

        torch.manual_seed(0)
        tm = resnet_classes(torch)()
        om = resnet_classes(tw)()
        om.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
        tm.train()
        om.train()
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
        y = rng.integers(0, 10, batch).astype(np.int64)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        xo, yo = tw.from_numpy(x), tw.from_numpy(y)
        oo = tw.optim.SGD(om.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
        to = torch.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)

        def ours() -> float:
            oo.zero_grad()
            loss = tw.nn.functional.cross_entropy(om(xo), yo)
            loss.backward()
            oo.step()
            return loss.item()

        def theirs() -> float:
            to.zero_grad()
            loss = torch.nn.functional.cross_entropy(tm(xt), yt)
            loss.backward()
            to.step()
            return loss.item()

        return ours, theirs

    return build


# (name, group, build, repeats), as in transformer_cases
RESNET_CASES = [
    ("resnet_b32", "ResNet step", _resnet(32), 10),
    ("resnet_b128", "ResNet step", _resnet(128), 5),
]
RESNET_TARGETS = {"resnet_b32": 1.0, "resnet_b128": 1.0}
