"""Finding, downloading, verifying and caching dataset files.

Where files are looked for (``data_root``): the ``root=`` argument, else the
``THALWEG_DATA`` environment variable, else ``~/.cache/thalweg/data`` (or
``$XDG_CACHE_HOME/thalweg/data``).  A dataset lives in a sub-folder named after
it (``<root>/mnist/train-images-idx3-ubyte.gz``), the layout of the project's
shared data folder, so ``THALWEG_DATA=../shared/data`` works as is.

A file is verified by the SHA-256 of its *decompressed* bytes: the figure is
the same whichever gzip (or none) the file came in, so one table serves the
official mirrors and any local copy.  A missing file is downloaded from the
mirrors in turn, verified, then written to the cache atomically (temporary
file, then rename); a failed download leaves nothing behind.  Without network
the error says which file to put where.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Sequence

from ..fileio import atomic_write_bytes
from .errors import DataError
from .idx import read_bytes

__all__ = ["ENV_VAR", "CHECKSUMS", "MIRRORS", "data_root", "sha256", "verify", "fetch_file", "ensure_file",
           "url_fetcher"]

ENV_VAR = "THALWEG_DATA"

# SHA-256 of the decompressed bytes of each official file.
CHECKSUMS: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

# Official mirrors, tried in order (each serves "<name>.gz").
MIRRORS: dict[str, list[str]] = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/",
              "http://yann.lecun.com/exdb/mnist/"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                      "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"],
}

Fetcher = Callable[[str], bytes]


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``root``, else ``$THALWEG_DATA``, else the user cache."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "thalweg" / "data"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify(data: bytes, expected_sha256: str, *, name: str) -> None:
    """Raise ``DataError`` unless the SHA-256 of ``data`` (decompressed bytes) is ``expected_sha256``."""
    got = sha256(data)
    if got != expected_sha256:
        raise DataError(f"{name}: checksum mismatch (sha256 of the decompressed bytes is {got}, expected "
                        f"{expected_sha256}); the file is corrupted or not the official one: delete it and "
                        "download it again")


def url_fetcher(timeout: float = 30.0) -> Fetcher:
    """The default fetcher: ``urllib`` GET of a URL, returning the body."""
    def fetch(url: str) -> bytes:
        from ..train.progress import progress_bar  # a bar in bytes on a terminal; nothing in CI or a log

        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - fixed https/http mirrors
            size = response.headers.get("Content-Length")
            chunks: list[bytes] = []
            with progress_bar(int(size) if size and size.isdigit() else None, desc=url.rsplit("/", 1)[-1],
                              unit="B", unit_scale=True) as bar:
                while chunk := response.read(1 << 16):
                    chunks.append(chunk)
                    bar.update(len(chunk))
            return b"".join(chunks)
    return fetch


def fetch_file(dataset: str, stem: str, dest: Path, *, mirrors: Sequence[str] | None = None,
               fetcher: Fetcher | None = None) -> bytes:
    """Download ``<stem>.gz`` from the mirrors, verify it, cache it at ``dest``; return the decompressed bytes."""
    fetcher = fetcher or url_fetcher()
    expected = CHECKSUMS[dataset][stem]
    mirrors = MIRRORS[dataset] if mirrors is None else list(mirrors)
    failures: list[str] = []
    for base in mirrors:
        url = base + stem + ".gz"
        try:
            payload = fetcher(url)
        except (urllib.error.URLError, OSError, TimeoutError, ValueError) as e:
            failures.append(f"{url}: {getattr(e, 'reason', e)}")
            continue
        try:
            raw = gzip.decompress(payload) if payload[:2] == b"\x1f\x8b" else payload
        except (OSError, EOFError) as e:
            failures.append(f"{url}: corrupted gzip ({e})")
            continue
        try:
            verify(raw, expected, name=url)
        except DataError as e:
            failures.append(str(e))
            continue
        atomic_write_bytes(dest, gzip.compress(raw, mtime=0) if payload[:2] != b"\x1f\x8b" else payload)
        return raw
    tried = "; ".join(failures) if failures else "no mirror given"
    first = (mirrors[0] + stem + ".gz") if mirrors else stem + ".gz"
    raise DataError(
        f"{dataset}: {stem}.gz is not in {dest.parent} and could not be downloaded ({tried}). "
        f"Download {first} yourself and put it at {dest}, or point --data-dir / ${ENV_VAR} at a folder "
        f"holding {dataset}/{stem}.gz (the set is four files: {', '.join(s + '.gz' for s in CHECKSUMS[dataset])})")


def ensure_file(dataset: str, stem: str, root: str | os.PathLike[str] | None = None, *, download: bool = True,
                verify_checksum: bool = True, fetcher: Fetcher | None = None,
                mirrors: Sequence[str] | None = None) -> bytes:
    """The verified, decompressed bytes of one official file, downloading it if needed.

    Looks for ``<root>/<dataset>/<stem>.gz``, ``<stem>`` (raw) and the same two
    directly in ``root``.  A file that exists but fails its checksum is an
    error (it is never silently replaced).
    """
    base = data_root(root)
    if root is not None and not base.exists():
        raise DataError(f"data directory does not exist: {base}")
    candidates = [base / dataset / f"{stem}.gz", base / dataset / stem, base / f"{stem}.gz", base / stem]
    for path in candidates:
        if path.is_file():
            raw = read_bytes(path)
            if verify_checksum:
                verify(raw, CHECKSUMS[dataset][stem], name=str(path))
            return raw
    dest = candidates[0]
    if not download:
        raise DataError(f"{dataset}: {stem}.gz not found in {base / dataset} (download=False). Put the official "
                        f"file there, e.g. from {MIRRORS[dataset][0]}{stem}.gz")
    return fetch_file(dataset, stem, dest, mirrors=mirrors, fetcher=fetcher)
