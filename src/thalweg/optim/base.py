"""Gradient transformations: an optimizer as a chain of small, composable links.

This is the optax idea on lists of arrays.  A link is a pair of functions

    init(params)                          -> state
    update(updates, state, params, hyper) -> (updates, state)

``updates`` comes in as (a copy of) the gradients, one array per parameter,
and each link turns it into something else: Adam divides by a running root
mean square, momentum accumulates a velocity, the learning-rate link scales by
``-lr``.  After the last link, ``updates`` is what gets *added* to the
parameters.  So

    Adam   = chain(add_l2(wd), scale_by_adam(betas, eps), scale_by_learning_rate(lr))
    AdamW  = chain(scale_by_adam(betas, eps), add_decayed_weights(wd), scale_by_learning_rate(lr))

and the one-line difference between L2 regularisation (the decay term goes
through Adam's per-coordinate scaling) and decoupled weight decay (it does not)
is the position of one link.

Conventions (they make the links fast and the state easy to save):

* **In place.**  A link may overwrite the arrays in ``updates`` and usually
  returns the same list.  ``Optimizer.step`` hands the chain scratch copies of
  the gradients, so ``p.grad`` is never modified.  If you call a link yourself,
  pass arrays you do not need any more.  ``None`` marks a parameter without a
  gradient this step; every link skips it and leaves its state untouched (as
  ``torch.optim`` does).
* **Plain state.**  A link's state is a ``dict`` whose values are numbers or
  :class:`PerParam` lists (one entry per parameter: an array, a number, or
  ``None`` until the parameter first receives a gradient).  No callables, so
  ``Optimizer.state_dict()`` is plain data.
* **Constant links.**  A link may also say when it is only a multiplication
  (``constant``): the learning-rate link is ``u <- -lr u``, momentum 0 and
  weight decay 0 are ``u <- u``.  When every link of a chain is, for the
  group's hyperparameters, the whole step is ``p += c g``, and
  ``Optimizer.step`` does it in one pass over each parameter, without the
  scratch copy (plain SGD: 80 -> about 35 us on the MLP benchmark's 270k
  parameters).  Links that keep state never claim this.
* **Hyperparameters by name.**  Each link declares the hyperparameters it reads
  (``hyperparams``: name -> default).  ``update`` reads them from ``hyper``,
  which the optimizer front sets to the parameter group, so writing
  ``group["lr"]`` or ``group["momentum"]`` (what schedulers do) takes effect on
  the next step.  Called without ``hyper``, a link uses its own defaults.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping, MutableMapping, NamedTuple, Sequence

from ..backend import get_array_module
from ._validation import check_hyperparams

Array = Any  # an np.ndarray (or a cupy.ndarray behind the backend seam)
Updates = list  # list[Array | None]
State = Any  # dict[str, number | PerParam], or a list of such dicts for a chain
Hyper = Mapping[str, Any]

__all__ = ["GradientTransformation", "PerParam", "apply_updates", "chain", "identity"]


class PerParam(list):
    """A list holding one state entry per parameter (``None`` until first used)."""

    @classmethod
    def empty(cls, n: int, fill: Any = None) -> "PerParam":
        return cls([fill] * n)


class GradientTransformation(NamedTuple):
    """One link of an optimizer chain.

    Attributes:
        init: ``init(params) -> state`` for a list of parameter arrays.
        update: ``update(updates, state, params=None, hyper=None) -> (updates, state)``.
        hyperparams: the names this link reads from ``hyper`` and their defaults.
        name: a label used in error messages.
        constant: ``constant(hyper) -> c or None``: ``c`` when, with these
            hyperparameters, ``update`` computes ``u <- c u`` and changes no
            state (so it may be skipped and ``c`` applied instead); None (or
            no function) when it does anything else.
    """

    init: Callable[[Sequence[Array]], State]
    update: Callable[..., tuple[Updates, State]]
    hyperparams: Mapping[str, Any] = MappingProxyType({})
    name: str = "transform"
    constant: Callable[[Hyper | None], float | None] | None = None


def present(updates: Updates) -> Iterator[tuple[int, Array, Any]]:
    """``(i, u, xp)`` for each update that is not ``None``: the loop every stateful link runs."""
    for i, u in enumerate(updates):
        if u is not None:
            yield i, u, get_array_module(u)


def zeros_once(state: State, i: int, u: Array, *names: str) -> bool:
    """Give parameter ``i`` zero buffers like ``u`` under ``names`` on its first update; True if just made."""
    if state[names[0]][i] is not None:
        return False
    for name in names:
        state[name][i] = get_array_module(u).zeros_like(u)
    return True


def make_link(name: str, defaults: Mapping[str, Any], init: Callable[..., State],
              update: Callable[..., tuple[Updates, State]],
              constant: Callable[[Hyper | None], float | None] | None = None) -> GradientTransformation:
    """Build a link after checking its hyperparameter defaults (``constant``: see :class:`GradientTransformation`)."""
    check_hyperparams(defaults)
    return GradientTransformation(init, update, MappingProxyType(dict(defaults)), name, constant)


def constant_factor(transform: GradientTransformation, hyper: Hyper | None) -> float | None:
    """``c`` when ``transform`` with these hyperparameters is the multiplication ``u <- c u``, else None."""
    return None if transform.constant is None else transform.constant(hyper)


def resolve(hyper: Hyper | None, defaults: Mapping[str, Any]) -> Mapping[str, Any]:
    """The hyperparameters a link should use: the group's, else its own defaults."""
    return defaults if hyper is None else hyper


def identity() -> GradientTransformation:
    """A link that leaves the updates unchanged (a placeholder in a chain)."""

    def init(params: Sequence[Array]) -> State:
        return {}

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        return updates, state

    return GradientTransformation(init, update, MappingProxyType({}), "identity", lambda hyper: 1.0)


def chain(*links: GradientTransformation) -> GradientTransformation:
    """Compose links left to right: ``chain(a, b)`` applies ``a`` then ``b``.

    The chain's state is the list of its links' states and its hyperparameters
    are the union of theirs.  Two links may not read the same hyperparameter
    name, because a parameter group holds one value per name.
    """
    if not links:
        raise ValueError("chain: give at least one transformation")
    merged: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for link in links:
        if not isinstance(link, GradientTransformation):
            raise TypeError(f"chain: expected GradientTransformation links, got {type(link).__name__}")
        for key, value in link.hyperparams.items():
            if key in merged:
                raise ValueError(
                    f"chain: links '{owner[key]}' and '{link.name}' both read the hyperparameter '{key}'; "
                    "a parameter group holds one value per name"
                )
            merged[key] = value
            owner[key] = link.name

    def init(params: Sequence[Array]) -> State:
        return [link.init(params) for link in links]

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        for i, link in enumerate(links):
            updates, state[i] = link.update(updates, state[i], params, hyper)
        return updates, state

    def constant(hyper: Hyper | None) -> float | None:
        product = 1.0
        for link in links:
            c = constant_factor(link, hyper)
            if c is None:
                return None
            product *= c
        return product

    name = "chain(" + ", ".join(link.name for link in links) + ")"
    return GradientTransformation(init, update, MappingProxyType(merged), name, constant)


def apply_updates(params: Sequence[Array], updates: Updates) -> None:
    """``p += u`` in place for every parameter array that has an update."""
    for p, u in zip(params, updates):
        if u is not None:
            p += u


def write_hyper(hyper: Hyper | None, key: str, value: Any) -> None:
    """Record a value a link computed (a scheduled lr) in the group, if it is writable."""
    if isinstance(hyper, MutableMapping):
        hyper[key] = value
