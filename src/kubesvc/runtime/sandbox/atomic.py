"""Kubelet's atomic writer (``pkg/volume/util/atomic_writer.go``) for configMap, secret,
downwardAPI and projected volumes: the payload is written into a fresh timestamped
directory ``..<timestamp>``, a symlink ``..data_tmp`` to it is renamed over ``..data``
(the one atomic step), and each top-level entry of the payload is a symlink
``<name> -> ..data/<name>``; the previous timestamped directory and entries no longer in
the payload are then removed. A reader that opens a path always sees one whole version.

Called by :mod:`kubesvc.runtime.sandbox.volumes`; only the standard library.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DATA_DIR_NAME = "..data"
DATA_TMP_NAME = "..data_tmp"


@dataclass(frozen=True, slots=True)
class FileProjection:
    data: bytes
    mode: int = 0o644
    uid: int = -1  # -1: leave as created
    gid: int = -1


class PayloadError(ValueError):
    """A payload path is not acceptable (absolute, ``..``, starts with ``..``)."""


def validate_path(path: str) -> None:
    """Upstream ``validatePath``: relative, no ``..`` element, not starting with ``..``."""
    if not path:
        raise PayloadError("invalid path: must not be empty")
    if len(path) > 4096:
        raise PayloadError("invalid path: must be less than or equal to 4096 characters")
    if PurePosixPath(path).is_absolute():
        raise PayloadError(f"invalid path: must be relative path: {path}")
    if any(p == ".." for p in path.split("/")):
        raise PayloadError(f"invalid path: must not contain '..': {path}")
    if path.startswith(".."):
        raise PayloadError(f"invalid path: must not start with '..': {path}")


def _timestamp() -> str:
    t = time.time_ns()
    return "..{}.{:09d}".format(time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime(t // 10**9)),
                                t % 10**9)


def _current(target: Path) -> Path | None:
    link = target / DATA_DIR_NAME
    try:
        return target / os.readlink(link)
    except OSError:
        return None


def _same(ts_dir: Path, payload: dict[str, FileProjection]) -> bool:
    """Whether the current version already holds exactly ``payload`` (so nothing is
    rewritten and readers see no change, as upstream's ``shouldWritePayload``)."""
    have: set[str] = set()
    for root, _dirs, files in os.walk(ts_dir):
        for f in files:
            have.add(os.path.relpath(os.path.join(root, f), ts_dir))
    if have != set(payload):
        return False
    for rel, fp in payload.items():
        p = ts_dir / rel
        try:
            st = p.stat()
            if (st.st_mode & 0o7777) != fp.mode or p.read_bytes() != fp.data:
                return False
            if (fp.uid >= 0 and st.st_uid != fp.uid) or (fp.gid >= 0 and st.st_gid != fp.gid):
                return False
        except OSError:
            return False
    return True


def write_payload(target: Path, payload: dict[str, FileProjection]) -> bool:
    """Make ``target`` hold ``payload`` (relative path -> file); True when it changed.
    ``target`` is created if missing. Raises :class:`PayloadError` on a bad path."""
    for rel in payload:
        validate_path(rel)
    target.mkdir(parents=True, exist_ok=True)
    old = _current(target)
    if old is not None and old.is_dir() and _same(old, payload):
        return False
    ts_dir = target / _timestamp()
    ts_dir.mkdir(mode=0o755)
    for rel, fp in payload.items():
        p = ts_dir / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, fp.data)
            if fp.uid >= 0 or fp.gid >= 0:
                os.fchown(fd, fp.uid, fp.gid)
            os.fchmod(fd, fp.mode)
        finally:
            os.close(fd)
    # Group the parent directories like the files (fsGroup), so the group can traverse.
    gids = {fp.gid for fp in payload.values() if fp.gid >= 0}
    if len(gids) == 1:
        gid = gids.pop()
        for root, dirs, _files in os.walk(ts_dir):
            for d in [root, *(os.path.join(root, x) for x in dirs)]:
                os.chown(d, -1, gid)
    tmp = target / DATA_TMP_NAME
    tmp.unlink(missing_ok=True)
    os.symlink(ts_dir.name, tmp)
    os.rename(tmp, target / DATA_DIR_NAME)  # the atomic swap
    tops = {rel.split("/", 1)[0] for rel in payload}
    for top in tops:
        link = target / top
        if not link.is_symlink():
            os.symlink(f"{DATA_DIR_NAME}/{top}", link)
    for entry in os.listdir(target):
        if entry.startswith(".."):
            continue
        if entry not in tops:
            p = target / entry
            if p.is_symlink() or p.is_file():
                p.unlink()
            else:
                shutil.rmtree(p, ignore_errors=True)
    if old is not None and old != ts_dir:
        shutil.rmtree(old, ignore_errors=True)
    return True
