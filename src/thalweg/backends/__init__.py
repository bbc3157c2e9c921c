"""``tw.backends``: torch's backend switches, for scripts that probe or set them.

``tw.backends.mps.is_available()`` and ``tw.backends.cuda.is_built()`` are False;
``tw.backends.cudnn.deterministic`` / ``benchmark`` can be set and change nothing.
"""

from __future__ import annotations

from types import SimpleNamespace


def _false() -> bool:
    return False


mps = SimpleNamespace(is_available=_false, is_built=_false)
cuda = SimpleNamespace(is_built=_false, matmul=SimpleNamespace(allow_tf32=False))
cudnn = SimpleNamespace(is_available=_false, enabled=False, deterministic=False, benchmark=False, allow_tf32=False)
