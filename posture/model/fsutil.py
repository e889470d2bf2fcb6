"""Atomic file and directory writes, and hashing.

Evidence must never be half-written: everything is built in a sibling
temporary directory and swapped into place with renames at the end; a kill
in the middle of the swap is repaired on the next open (`recover_directory`).
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from posture.model.errors import ConfigError


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# Staged and set-aside copies this process is using right now (see `_abandoned`).
_IN_FLIGHT: set[Path] = set()


def _writer_pid(path: Path, kind: str) -> int | None:
    """The PID in a ``.NAME.old-PID`` / ``.NAME.tmp-PID-…`` name, or None if it has none."""
    tail = path.name.rpartition(f".{kind}-")[2]
    digits = tail.split("-", 1)[0]
    return int(digits) if digits.isdigit() else None


def _abandoned(path: Path, kind: str) -> bool:
    """Whether the writer that made ``path`` is gone.

    Another process counts as gone once no process has its PID. This process
    counts as gone for copies it is not using: a container's next run is often
    PID 1 again and must still repair what the killed PID 1 left.
    """
    pid = _writer_pid(path, kind)
    if pid is None:
        return False
    if pid == os.getpid():
        return path not in _IN_FLIGHT
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def recover_directory(dest: Path) -> None:
    """Repair what a writer killed inside `atomic_directory` left next to ``dest``.

    The swap is two renames, ``dest`` to ``.dest.old-PID`` and then the staged
    directory to ``dest``: a kill between them leaves no ``dest`` at all. The
    previous content is then restored, as if the killed run had not happened
    (it reported nothing; its staged copy is never trusted). Staged or old
    copies of writers that are gone are removed; a running writer's are left
    alone, so a concurrent swap is never undone.
    """
    parent = dest.parent
    if not parent.is_dir():
        return
    prefix = glob.escape(f".{dest.name}.")
    for old in sorted(parent.glob(f"{prefix}old-*")):
        if not _abandoned(old, "old"):
            continue
        if dest.exists() or dest.is_symlink():
            shutil.rmtree(old, ignore_errors=True)  # killed after the swap, before the cleanup
        else:
            os.replace(old, dest)
    for tmp in parent.glob(f"{prefix}tmp-*"):
        if _abandoned(tmp, "tmp"):
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_directory(dest: Path) -> Iterator[Path]:
    """Yield an empty temporary directory that replaces ``dest`` on success.

    On any exception the temporary directory is removed and ``dest`` (if it
    existed) is left exactly as it was. A kill between the swap's two renames
    is repaired by `recover_directory`, which runs first here and wherever
    ``dest`` is opened.
    """
    recover_directory(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-{os.getpid()}-", dir=dest.parent))
    old = dest.parent / f".{dest.name}.old-{os.getpid()}"
    _IN_FLIGHT.update((tmp, old))
    try:
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        had_old = dest.exists()
        if had_old:
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dest, old)
        try:
            os.replace(tmp, dest)
        except BaseException:
            if had_old:
                os.replace(old, dest)
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if had_old:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        _IN_FLIGHT.difference_update((tmp, old))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def input_text(path: Path, raw: bytes) -> str:
    """``raw`` (from `read_input_file`) as UTF-8 text; `ConfigError` naming the file otherwise."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None


def read_input_file(path: Path, limit: int, what: str) -> bytes:
    """The bytes of a hand-written input file (engagement, inventory, requirements), read bounded.

    Never more than ``limit`` + 1 bytes, so a huge file or a device is refused rather than read;
    every failure is one `ConfigError` line naming the file (and line 1 when it is too large).
    """
    a = "an" if what[:1].lower() in "aeiou" else "a"
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not {a} {what}") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    if len(data) > limit:
        raise ConfigError(f"{path}:1: larger than {limit} bytes; not {a} {what}")
    return data
