"""Input files for the importers: single files, folders and zip archives, opened safely.

A zip from a partner (police.uk downloads come as a zip of monthly folders) is checked
before anything is decompressed: members with absolute or ``..`` paths and archives inside
the archive are refused, and so is an archive whose declared uncompressed total exceeds
``max_total`` or whose members compress better than ``max_ratio`` to one — the signature
of a zip bomb. :mod:`zipfile` never yields more than a member's declared size, so the
declared sizes are a real bound.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO

from locmap.errors import InvalidData

__all__ = ["Source", "Loaded", "collect_sources", "sha256_of", "MAX_TOTAL_BYTES",
           "MAX_RATIO"]

MAX_TOTAL_BYTES = 4 * 1024**3
MAX_RATIO = 200


class _Counting:
    """A binary reader that tells its :class:`Source` how many bytes were read."""

    def __init__(self, fh: IO[bytes], source: Source) -> None:
        self._fh, self._source = fh, source

    def read(self, n: int = -1) -> bytes:
        data = self._fh.read(n)
        self._source.bytes_read += len(data)
        return data

    def read1(self, n: int = -1) -> bytes:
        return self.read(n)

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _Counting:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


@dataclass
class Loaded:
    """What a writer did with one file, for the caller's import record.

    ``options`` are the choices made (stored with the import), ``message`` the one line a
    person reads, ``audit`` the counts worth keeping in the audit trail.
    """

    rows_read: int
    rows_accepted: int
    rows_rejected: int
    report: list[dict[str, Any]]
    message: str
    options: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)


class Source:
    """One input file: a name to report, its size and a way to (re)open it."""

    def __init__(self, name: str, size: int, opener: Callable[[], IO[bytes]]) -> None:
        self.name, self.size, self._opener = name, size, opener
        self.bytes_read = 0

    def open(self) -> BinaryIO:
        self.bytes_read = 0
        return _Counting(self._opener(), self)  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"Source({self.name!r}, {self.size})"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _zip_sources(
    path: Path, suffixes: tuple[str, ...], max_total: int, max_ratio: int
) -> list[Source]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InvalidData(f"{path.name} is not a readable zip archive.") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
    total = 0
    chosen = []
    for m in members:
        p = PurePosixPath(m.filename.replace("\\", "/"))
        if p.is_absolute() or ".." in p.parts or m.filename.startswith(("/", "\\")):
            raise InvalidData(f"{path.name}: member {m.filename!r} has an unsafe path; refused.")
        if p.suffix.lower() in (".zip", ".gz", ".7z", ".tar"):
            raise InvalidData(f"{path.name}: archives inside the archive ({m.filename}) are "
                              "not accepted; unpack them first.")
        total += m.file_size
        if total > max_total:
            raise InvalidData(f"{path.name} would unpack to more than "
                              f"{max_total / 2**20:,.0f} MB; refused.")
        if m.file_size > 1_000_000 and m.file_size > max_ratio * max(m.compress_size, 1):
            raise InvalidData(
                f"{path.name}: {m.filename} compresses {m.file_size / max(m.compress_size, 1):,.0f}"
                f" to 1 (limit {max_ratio}); this looks like a zip bomb and is refused.")
        if p.suffix.lower() in suffixes and not p.name.startswith("."):
            chosen.append(m)

    def opener(info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
        def open_member() -> IO[bytes]:
            zf = zipfile.ZipFile(path)
            fh = zf.open(info)
            close = fh.close

            def close_both() -> None:
                close()
                zf.close()

            fh.close = close_both  # type: ignore[method-assign]
            return fh

        return open_member

    return [Source(f"{path.name}:{m.filename}", m.file_size, opener(m))
            for m in sorted(chosen, key=lambda m: m.filename)]


def _file_opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: path.open("rb")


def collect_sources(
    paths: Iterable[Path],
    suffixes: tuple[str, ...] = (".csv",),
    *,
    max_total: int = MAX_TOTAL_BYTES,
    max_ratio: int = MAX_RATIO,
) -> list[Source]:
    """Every file with one of ``suffixes`` in ``paths`` (files, folders, zip archives).

    Raises
    ------
    InvalidData
        A path does not exist, holds no such file, or is an unsafe archive.
    """
    out: list[Source] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                if f.is_file() and f.suffix.lower() in suffixes:
                    out.append(Source(str(f.relative_to(path)), f.stat().st_size,
                                      _file_opener(f)))
                elif f.is_file() and f.suffix.lower() == ".zip":
                    out.extend(_zip_sources(f, suffixes, max_total, max_ratio))
        elif path.is_file() and path.suffix.lower() == ".zip":
            out.extend(_zip_sources(path, suffixes, max_total, max_ratio))
        elif path.is_file():
            out.append(Source(path.name, path.stat().st_size, _file_opener(path)))
        else:
            raise InvalidData(f"{path} does not exist.")
    if not out:
        raise InvalidData(f"No {'/'.join(suffixes)} file found in what was given.")
    return out
