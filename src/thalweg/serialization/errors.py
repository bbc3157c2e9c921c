"""The one exception type for unreadable checkpoint files.

``CheckpointError`` subclasses ``ValueError`` so generic handlers still catch
it; its message is one line that names the file and what is wrong with it,
and the command line prints it as is.
"""

from __future__ import annotations

__all__ = ["CheckpointError"]


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt, too large for its size, or holds more than plain data."""
