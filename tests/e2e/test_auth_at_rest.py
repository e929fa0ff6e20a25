"""Issue 18 (authentication, data at rest) against real ``kubesvc up`` and ``kubesvc
server`` processes: a bootstrap token made by ``kubesvc token create`` while the server runs
is accepted at once, and an expired or deleted one gets 401 at once, in both; the data dir
is 0700 and the store, tokens and keys 0600 (an older dir is fixed on start); with
``--encryption-provider-config`` a Secret's raw sqlite row is ciphertext while kubectl reads
it back, and a bad config stops the start with a message naming the field; with
``--audit-log-path`` kubectl's create is one Metadata Event line."""

from __future__ import annotations

import base64
import json
import os
import random
import sqlite3
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kubesvc.api import bootstraptoken as bt
from tests.e2e.conftest import KUBESVC, MISSING, ROOT, start_cluster
from tests.e2e.test_scaleout import Proc, free_port

pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING or "ok")

KEY = base64.b64encode(os.urandom(32)).decode()
ENC = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
       "resources": [{"resources": ["secrets"], "providers": [
           {"aesgcm": {"keys": [{"name": "key1", "secret": KEY}]}}, {"identity": {}}]}]}


def _status(url: str, token: str, ca: Path) -> int:
    ctx = ssl.create_default_context(cafile=str(ca))
    req = urllib.request.Request(f"{url}/api/v1/namespaces/default/services",
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=5, context=ctx) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _kubectl(kubeconfig: Path, *args: str, input: str | None = None) -> str:
    r = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], input=input,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"kubectl {args}: {r.stderr}"
    return r.stdout


def _token_lifecycle(url: str, data_dir: Path, kubeconfig: Path) -> None:
    """Token create -> 200 at once; delete -> 401 at once; expired -> 401."""
    ca = data_dir / "pki" / "ca.crt"
    token = subprocess.run([*KUBESVC, "token", "create", "--kubeconfig", str(kubeconfig),
                            "--ttl", "1h"], capture_output=True, text=True, cwd=ROOT,
                           timeout=30, check=True).stdout.strip()
    assert bt.parse_token(token) is not None, token
    assert _status(url, token, ca) == 200  # no restart, no reload period
    name = bt.secret_name(token.split(".")[0])
    _kubectl(kubeconfig, "delete", "secret", "-n", "kube-system", name)
    assert _status(url, token, ca) == 401
    expired = "abc123.0123456789abcdef"
    secret = bt.token_secret(expired, expires=datetime.now(UTC) + timedelta(seconds=2))
    _kubectl(kubeconfig, "create", "-f", "-", input=json.dumps(secret))
    assert _status(url, expired, ca) == 200
    time.sleep(2.2)
    assert _status(url, expired, ca) == 401


def _mode(p: Path) -> int:
    return os.stat(p).st_mode & 0o777


def _assert_private(data_dir: Path) -> None:
    assert _mode(data_dir) == 0o700
    private = [data_dir / "state.db", data_dir / "tokens.csv", data_dir / "kubeconfig",
               *sorted((data_dir / "pki").glob("*.key"))]
    private += [p for p in (data_dir / "state.db-wal", data_dir / "state.db-shm")
                if p.exists()]
    for p in private:
        assert _mode(p) == 0o600, f"{p} is {oct(_mode(p))}"


def _raw_row(db: Path, key: str) -> bytes:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT h.value FROM live JOIN history h ON h.rev = live.rev "
                           "WHERE live.key = ?", (key,)).fetchone()
    finally:
        conn.close()
    assert row is not None, key
    return bytes(row[0])


def test_up_tokens_modes_and_encryption(tmp_path: Path) -> None:
    data = tmp_path / "data"
    conf = tmp_path / "enc.yaml"
    conf.write_text(json.dumps(ENC))
    audit = tmp_path / "audit.log"
    c = start_cluster(data, "--encryption-provider-config", str(conf),
                      "--audit-log-path", str(audit))
    try:
        _token_lifecycle(f"https://127.0.0.1:{c.api_port}", data, c.kubeconfig)
        c.kubectl("create", "secret", "generic", "db", "--from-literal=password=hunter2-e2e")
        _assert_private(data)
    finally:
        c.stop()
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    mine = [e for e in events if e["objectRef"].get("name") == "db"]
    assert len(mine) == 1 and mine[0]["verb"] == "create" and mine[0]["level"] == "Metadata"
    assert mine[0]["user"]["username"] == "kubernetes-admin"
    assert mine[0]["userAgent"].startswith("kubectl")
    assert "hunter2" not in audit.read_text()  # Metadata: no request body
    raw = _raw_row(data / "state.db", "/registry/core/secrets/default/db")
    assert raw.startswith(b"k8s:enc:aesgcm:v1:key1:")
    assert b"hunter2" not in raw and base64.b64encode(b"hunter2-e2e") not in raw
    # An older data dir (0755, world-readable files) is fixed on the next start, and the
    # Secret reads back through the same config.
    os.chmod(data, 0o755)
    for p in (data / "state.db", data / "tokens.csv", data / "pki" / "ca.key"):
        os.chmod(p, 0o644)
    c = start_cluster(data, "--encryption-provider-config", str(conf))
    try:
        _assert_private(data)
        got = c.kubectl_json("get", "secret", "db")
        assert base64.b64decode(got["data"]["password"]) == b"hunter2-e2e"
    finally:
        c.stop()


def test_up_bad_encryption_config_names_the_field(tmp_path: Path) -> None:
    conf = tmp_path / "enc.yaml"
    bad = json.loads(json.dumps(ENC))
    bad["resources"][0]["providers"][0]["aesgcm"]["keys"][0]["secret"] = "c2hvcnQ="
    conf.write_text(json.dumps(bad))
    r = subprocess.run([*KUBESVC, "up", "--data-dir", str(tmp_path / "d"), "--api-port",
                        str(free_port()), "--encryption-provider-config", str(conf)],
                       capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert r.returncode == 1
    assert "resources[0].providers[0].aesgcm.keys[0].secret" in r.stderr
    assert "expected one of [16, 24, 32]" in r.stderr and "Traceback" not in r.stderr


def test_server_tokens_and_modes(tmp_path: Path) -> None:
    octet = random.randint(150, 249)
    host = f"127.{octet}.7.1"
    port = free_port(host)
    data = tmp_path / "data"
    conf = tmp_path / "enc.yaml"
    conf.write_text(json.dumps(ENC))
    argv = [*KUBESVC, "server", "--data-dir", str(data), "--api-host", host, "--api-port",
            str(port), "--dns-addr", f"{host}:{free_port(host)}",
            "--service-cidr", f"127.{octet}.128.0/17", "--lb-pool", f"127.{octet}.2.0/24",
            "--encryption-provider-config", str(conf)]
    s = Proc("server", argv, tmp_path / "server.log").start()
    try:
        s.wait_line("is ready", timeout=30)
        _token_lifecycle(f"https://{host}:{port}", data, data / "kubeconfig")
        _assert_private(data)
    finally:
        s.term()
