"""File modes of a data dir: it holds Secrets (``state.db``), the admin token
(``tokens.csv``, ``kubeconfig``) and the CA and serving keys (``pki/*.key``), so the dir and
``pki/`` are 0700 and those files 0600, as kubeadm keeps ``/etc/kubernetes/pki``.

New files are created with these modes where they are written (:mod:`kubesvc.storage.sqlite`,
:mod:`kubesvc.apiserver.http.tls`, :mod:`kubesvc.apiserver.http.auth`, the kubeconfig
writer); :func:`secure_data_dir` also fixes a data dir made by an older kubesvc. Called by
``kubesvc up`` and ``kubesvc server`` first thing on start. An etcd store's files are
etcd's business and are left alone.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
_PRIVATE = ("tokens.csv", "token-expiry.json", "kubeconfig", "state.db", "state.db-wal",
            "state.db-shm", "state.db-journal")


def secure_data_dir(data_dir: Path) -> None:
    """Create ``data_dir`` 0700 (or make it so) and make its secret files 0600."""
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(data_dir, DIR_MODE)
    pki = data_dir / "pki"
    if pki.is_dir():
        os.chmod(pki, DIR_MODE)
    paths = [data_dir / name for name in _PRIVATE]
    paths += sorted(pki.glob("*.key")) if pki.is_dir() else []
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            if (os.stat(p).st_mode & 0o777) != FILE_MODE:
                os.chmod(p, FILE_MODE)
