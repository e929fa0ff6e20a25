"""Data dir modes: a dir made by an older kubesvc (0755, world-readable state.db, keys and
tokens) is made 0700 with its secret files 0600; other files keep their mode."""

from __future__ import annotations

import os
from pathlib import Path

from kubesvc.cli.datadir import secure_data_dir


def _mode(p: Path) -> int:
    return os.stat(p).st_mode & 0o777


def test_existing_data_dir_is_fixed(tmp_path: Path) -> None:
    d = tmp_path / "data"
    (d / "pki").mkdir(parents=True)
    os.chmod(d, 0o755)
    os.chmod(d / "pki", 0o755)
    files = ["state.db", "state.db-wal", "state.db-shm", "tokens.csv", "kubeconfig",
             "pki/ca.key", "pki/apiserver.key"]
    for name in [*files, "pki/ca.crt", "netns.json"]:
        (d / name).write_text("x")
        os.chmod(d / name, 0o644)
    secure_data_dir(d)
    assert _mode(d) == 0o700 and _mode(d / "pki") == 0o700
    for name in files:
        assert _mode(d / name) == 0o600, name
    assert _mode(d / "pki" / "ca.crt") == 0o644  # a certificate is public


def test_new_data_dir_is_0700(tmp_path: Path) -> None:
    d = tmp_path / "a" / "b"
    secure_data_dir(d)
    assert _mode(d) == 0o700
