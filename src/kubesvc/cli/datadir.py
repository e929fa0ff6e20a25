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

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
_PRIVATE = ("tokens.csv", "token-expiry.json", "kubeconfig", "admin.conf", "state.db",
            "state.db-wal", "state.db-shm", "state.db-journal")


def secure_data_dir(data_dir: Path) -> None:
    """Create ``data_dir`` 0700 (or make it so) and make its secret files 0600. A mode
    that cannot be changed (a read-only file system, a dir owned by another user) is
    logged and left: opening the store then says what is wrong in one line."""
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    pki = data_dir / "pki"
    paths = [(data_dir, DIR_MODE), (pki, DIR_MODE)]
    paths += [(data_dir / name, FILE_MODE) for name in _PRIVATE]
    paths += [(p, FILE_MODE) for p in sorted(pki.glob("*.key"))] if pki.is_dir() else []
    for p, mode in paths:
        try:
            if (os.stat(p).st_mode & 0o777) != mode:
                os.chmod(p, mode)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot make %s mode %o: %s", p, mode, exc.strerror or exc)
