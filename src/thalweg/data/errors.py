"""The one exception type the data package raises for bad files and paths.

``DataError`` subclasses ``ValueError`` so generic handlers still catch it, and
the command line turns it into a one-line message with exit status 2.
"""

from __future__ import annotations


class DataError(ValueError):
    """A dataset file is missing, corrupted, truncated or fails its checksum."""
