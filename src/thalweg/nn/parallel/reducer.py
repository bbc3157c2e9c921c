"""The gradient reducer of ``DistributedDataParallel``: buckets, overlapped all-reduce, averaging.

Data parallelism keeps one replica of the model per process; process ``r``
computes the gradient ``g_r`` of its own shard of the batch, and every replica
must then step with the average ``g = (1/p) sum_r g_r``, which is the gradient of
the mean loss over the whole batch when the shards are of equal size.

Sending one message per parameter would pay MPI's latency hundreds of times;
sending one message after backward would leave the network idle while the
processor computes.  So, as torch's reducer does (Li et al. 2020, "PyTorch
Distributed", arXiv 2006.15704):

* parameters are grouped into *buckets* of about ``bucket_cap_mb`` megabytes,
  in the *reverse* order of ``model.parameters()``, which is roughly the order in
  which backward finishes their gradients;
* a hook on each parameter fires as soon as its gradient is final for the pass
  and copies it into its bucket's flat buffer; when the last gradient of a
  bucket has arrived, a non-blocking ``MPI_Iallreduce`` (sum) of the bucket starts,
  and runs while backward computes the gradients of earlier layers;
* buckets are launched in index order on every rank (MPI requires collectives
  in the same order everywhere); when the last one has been launched, the
  reducer waits for all of them, divides by ``p`` and writes the averages back
  into each ``param.grad``, still inside ``backward()``, so ``optimizer.step()``
  sees averaged gradients with nothing to call in between.

A parameter that gets no gradient in a pass would keep its bucket waiting
forever; with ``find_unused_parameters=True`` the reducer walks the graph of
the forward's output and marks unreached parameters ready at once (their local
gradient counts as zero; a parameter unused on *every* rank keeps its ``.grad``
untouched, as in torch).  Without it, the next forward raises an error naming
the parameters that never got a gradient.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Sequence

import numpy as np

from ...autograd.tensor import Tensor


def grad_array(p: Any) -> np.ndarray | None:
    """The buffer of ``p.grad`` (None when it has no gradient)."""
    return None if p.grad is None else p.grad.array


class Bucket:
    """Parameters of one dtype whose gradients travel in one flat buffer."""

    def __init__(self, index: int, params: Sequence[Any]) -> None:
        self.index = index
        self.params = list(params)
        self.offsets: list[int] = []
        n = 0
        for p in self.params:
            self.offsets.append(n)
            n += p.array.size
        self.buffer = np.zeros(n, dtype=self.params[0].array.dtype)
        self.pending = len(self.params)
        self.request: Any = None

    def view(self, i: int) -> np.ndarray:
        p = self.params[i]
        return self.buffer[self.offsets[i]:self.offsets[i] + p.array.size].reshape(p.array.shape)

    @property
    def nbytes(self) -> int:
        return int(self.buffer.nbytes)


def assign_buckets(params: Sequence[Any], cap_bytes: int) -> list[list[Any]]:
    """Group ``params`` (already in reverse order) into consecutive runs of one dtype of at most ``cap_bytes``.

    A parameter larger than the cap gets a bucket of its own.
    """
    buckets: list[list[Any]] = []
    current: list[Any] = []
    size = 0
    for p in params:
        nbytes = p.array.nbytes
        if current and (size + nbytes > cap_bytes or p.array.dtype != current[0].array.dtype):
            buckets.append(current)
            current, size = [], 0
        current.append(p)
        size += nbytes
    if current:
        buckets.append(current)
    return buckets


class Reducer:
    """Averages the gradients of ``named_params`` across the process group during backward.

    ``prepare(outputs)`` arms it for the next backward pass (the wrapper calls it
    after each forward that needs gradient synchronisation).  ``stats`` counts
    the seconds spent waiting for all-reduces after the last bucket was
    launched (the part of communication *not* hidden behind backward).
    """

    def __init__(self, named_params: Sequence[tuple[str, Any]], group: Any, *, bucket_cap_mb: float = 25.0,
                 find_unused_parameters: bool = False) -> None:
        if bucket_cap_mb <= 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.group = group
        self.find_unused = bool(find_unused_parameters)
        self.names = {id(p): n for n, p in named_params}
        ordered = [p for _, p in named_params][::-1]
        self.buckets = [Bucket(i, ps) for i, ps in enumerate(assign_buckets(ordered, int(bucket_cap_mb * 2**20)))]
        self.where: dict[int, tuple[Bucket, int]] = {}
        for b in self.buckets:
            for i, p in enumerate(b.params):
                self.where[id(p)] = (b, i)
        self.params = ordered
        self.armed = False
        self.ready: set[int] = set()
        self.used = np.zeros(len(ordered), dtype=np.int32)
        self.position = {id(p): k for k, p in enumerate(ordered)}
        self.next_bucket = 0
        self.stats = {"iterations": 0, "wait_s": 0.0, "bytes": sum(b.nbytes for b in self.buckets)}
        self.handles = [p.register_post_accumulate_grad_hook(self._on_ready) for p in ordered]

    # ------------------------------------------------------------- arming
    def prepare(self, outputs: Any) -> None:
        """Arm for the backward of ``outputs``; with ``find_unused`` mark unreached parameters ready now."""
        self.check_finished()
        self.armed = True
        self.ready.clear()
        self.used[:] = 0
        self.next_bucket = 0
        for b in self.buckets:
            b.pending = len(b.params)
            b.request = None
        if self.find_unused:
            reached = reachable_leaves(outputs)
            for p in self.params:
                if id(p) not in reached:
                    self._mark(p, used=False)

    def check_finished(self) -> None:
        """Raise if the previous armed pass got some gradients but not all (a parameter went unused)."""
        if self.armed and self.ready and len(self.ready) < len(self.params):
            missing = [self.names[id(p)] for p in self.params if id(p) not in self.ready]
            raise RuntimeError(
                "DistributedDataParallel: the previous backward gave no gradient to "
                f"{', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}, so its reduction never finished; "
                "pass find_unused_parameters=True to DistributedDataParallel if some parameters do not "
                "contribute to the loss")

    # ------------------------------------------------------- during backward
    def _on_ready(self, p: Any) -> None:
        """Post-accumulate hook: ``p.grad`` is final for this backward pass."""
        if self.armed and id(p) not in self.ready:
            self._mark(p, used=True)

    def _mark(self, p: Any, *, used: bool) -> None:
        """Copy ``p``'s gradient into its bucket; launch what is ready; finish after the last bucket."""
        bucket, i = self.where[id(p)]
        current = grad_array(p)
        if current is None:
            bucket.view(i)[...] = 0
        else:
            bucket.view(i)[...] = current
        self.used[self.position[id(p)]] = 1 if (used or current is not None) else 0
        self.ready.add(id(p))
        bucket.pending -= 1
        self._launch_ready()
        if self.next_bucket == len(self.buckets):
            self._finish()

    def _launch_ready(self) -> None:
        """Start the all-reduce of every ready bucket, in bucket order; nudge MPI's progress on running ones."""
        from ...distributed.backends import ReduceOp

        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].pending == 0:
            b = self.buckets[self.next_bucket]
            b.request = self.group.iallreduce(b.buffer, ReduceOp.SUM)
            self.next_bucket += 1
        for b in self.buckets[:self.next_bucket]:
            if b.request is not None and b.request.is_completed():
                b.request.wait()
                b.request = None

    def _finish(self) -> None:
        """Wait for every bucket, average, and write the averages into the gradients."""
        t0 = time.perf_counter()
        for b in self.buckets:
            if b.request is not None:
                b.request.wait()
                b.request = None
        used = self.used
        if self.find_unused:
            used = self.used.copy()
            self.group.allreduce(used, _max())
        self.stats["wait_s"] += time.perf_counter() - t0
        self.stats["iterations"] += 1
        self.armed = False
        scale = 1.0 / self.group.size
        for b in self.buckets:
            if self.group.size > 1:
                b.buffer *= scale
            for i, p in enumerate(b.params):
                if not used[self.position[id(p)]]:
                    continue  # no rank used it: its gradient stays as it was (None), as in torch
                g = grad_array(p)
                if g is None:
                    p.grad = Tensor(b.view(i).copy())
                else:
                    g[...] = b.view(i)

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


def _max() -> Any:
    from ...distributed.backends import ReduceOp

    return ReduceOp.MAX


def tensors_in(obj: Any) -> Iterable[Tensor]:
    """The tensors inside a forward's output (a tensor, or nested tuples, lists and dicts of them)."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from tensors_in(o)


def reachable_leaves(outputs: Any) -> set[int]:
    """Ids of the leaf tensors the graph of ``outputs`` depends on (iterative walk over the graph nodes)."""
    leaves: set[int] = set()
    seen: set[int] = set()
    stack = []
    for t in tensors_in(outputs):
        if t._ctx is None:
            leaves.add(id(t))
        else:
            stack.append(t._ctx)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for inp in node.inputs:
            if inp is None:
                continue
            if inp._ctx is None:
                leaves.add(id(inp))
            else:
                stack.append(inp._ctx)
    return leaves
