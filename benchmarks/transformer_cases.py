"""Transformer benchmark cases (speed issue round 2, items 1 and 3).

One source for both libraries: the model classes are written once against a
``lib`` argument (``torch`` or ``thalweg``) and built twice, so the thalweg
model is literally the torch script with its imports changed.  Weights are
copied from torch's ``state_dict``; the first step's losses must agree (the
smoke test checks it).

- ``gpt_small_manual`` / ``gpt_small_sdpa``: a character-level GPT training
  step (vocab 65, context 32, batch 16, width 64, 4 heads, 4 layers, GELU MLP,
  AdamW), with attention written by hand (tril mask, masked_fill, softmax) or
  through ``F.scaled_dot_product_attention``.
- ``gpt_large_sdpa``: context 128, width 256, batch 32, 4 layers.
- ``encoder_layer``: ``nn.TransformerEncoderLayer`` forward+backward
  (batch_first, d_model 128, 4 heads, sequence 64, batch 32).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

Step = Callable[[], float]


def gpt_classes(lib: Any) -> Any:
    """The GPT model (nanoGPT's structure) for one library."""
    nn = lib.nn
    F = lib.nn.functional

    class Attention(nn.Module):
        def __init__(self, width: int, heads: int, context: int, fused: bool) -> None:
            super().__init__()
            self.c_attn = nn.Linear(width, 3 * width)
            self.c_proj = nn.Linear(width, width)
            self.heads, self.width, self.fused = heads, width, fused
            self.register_buffer("tril", lib.tril(lib.ones(context, context)))

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(x).split(self.width, dim=2)
            q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)
            k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
            v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
            if self.fused:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.shape[-1]))
                att = att.masked_fill(self.tril[:T, :T] == 0, float("-inf"))
                att = F.softmax(att, dim=-1)
                y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)

    class Block(nn.Module):
        def __init__(self, width: int, heads: int, context: int, fused: bool) -> None:
            super().__init__()
            self.ln_1 = nn.LayerNorm(width)
            self.attn = Attention(width, heads, context, fused)
            self.ln_2 = nn.LayerNorm(width)
            self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self, vocab: int, context: int, width: int, heads: int, layers: int, fused: bool) -> None:
            super().__init__()
            self.wte = nn.Embedding(vocab, width)
            self.wpe = nn.Embedding(context, width)
            self.blocks = nn.Sequential(*[Block(width, heads, context, fused) for _ in range(layers)])
            self.ln_f = nn.LayerNorm(width)
            self.lm_head = nn.Linear(width, vocab)

        def forward(self, idx, targets):
            B, T = idx.shape
            x = self.wte(idx) + self.wpe(lib.arange(T))
            logits = self.lm_head(self.ln_f(self.blocks(x)))
            return F.cross_entropy(logits.view(B * T, -1), targets.view(B * T))

    return GPT


def _gpt(context: int, width: int, batch: int, fused: bool, vocab: int = 65, heads: int = 4,
         layers: int = 4, quick_batch: int | None = None) -> Callable[[bool], tuple[Step, Step]]:
    """A GPT training-step case; ``quick_batch`` shrinks the batch in smoke mode (the model stays the same)."""

    def build(quick: bool) -> tuple[Step, Step]:
        import torch

        import thalweg as tw

        torch.manual_seed(0)
        tm = gpt_classes(torch)(vocab, context, width, heads, layers, fused)
        om = gpt_classes(tw)(vocab, context, width, heads, layers, fused)
        om.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
        rng = np.random.default_rng(0)
        b = quick_batch if quick and quick_batch else batch
        idx = rng.integers(0, vocab, (b, context)).astype(np.int64)
        tgt = rng.integers(0, vocab, (b, context)).astype(np.int64)
        ti, tt = torch.from_numpy(idx), torch.from_numpy(tgt)
        oi, ot = tw.from_numpy(idx), tw.from_numpy(tgt)
        to = torch.optim.AdamW(tm.parameters(), lr=1e-3)
        oo = tw.optim.AdamW(om.parameters(), lr=1e-3)

        def ours() -> float:
            oo.zero_grad()
            loss = om(oi, ot)
            loss.backward()
            oo.step()
            return loss.item()

        def theirs() -> float:
            to.zero_grad()
            loss = tm(ti, tt)
            loss.backward()
            to.step()
            return loss.item()

        return ours, theirs

    return build


def _encoder_layer(quick: bool) -> tuple[Step, Step]:
    import torch

    import thalweg as tw

    d_model, heads, seq, batch = 128, 4, 64, 32
    torch.manual_seed(0)
    tm = torch.nn.TransformerEncoderLayer(d_model, heads, batch_first=True)
    om = tw.nn.TransformerEncoderLayer(d_model, heads, batch_first=True)
    om.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    tm.eval()  # dropout off in both (eval keeps torch off its inference fast path: inputs require grad)
    om.eval()
    x = np.random.default_rng(0).standard_normal((batch, seq, d_model)).astype(np.float32)
    xt = torch.from_numpy(x).requires_grad_()
    xo = tw.tensor(x, requires_grad=True)

    def ours() -> float:
        om.zero_grad()
        out = om(xo)
        loss = (out * out).mean()
        loss.backward()
        return loss.item()

    def theirs() -> float:
        tm.zero_grad()
        out = tm(xt)
        loss = (out * out).mean()
        loss.backward()
        return loss.item()

    return ours, theirs


TRANSFORMER_CASES = [
    ("gpt_small_manual", "GPT step (hand attention)", _gpt(32, 64, 16, fused=False), 20),
    ("gpt_small_sdpa", "GPT step (SDPA)", _gpt(32, 64, 16, fused=True), 20),
    ("gpt_large_sdpa", "GPT step C128 W256 B32", _gpt(128, 256, 32, fused=True, quick_batch=2), 5),
    ("encoder_layer", "EncoderLayer fwd+bwd", _encoder_layer, 10),
]

TRANSFORMER_TARGETS = {"gpt_small_manual": 1.0, "gpt_small_sdpa": 1.0, "gpt_large_sdpa": 1.0, "encoder_layer": 1.0}
