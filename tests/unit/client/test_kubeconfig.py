"""write_kubeconfig / load_kubeconfig, and that real kubectl accepts what we write."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from kubesvc import errors
from kubesvc.client.kubeconfig import load_kubeconfig, write_kubeconfig

from .conftest import TOKEN, FakeApi, Tls

KUBECTL = shutil.which("kubectl")


def test_round_trip_and_private_mode(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "config"
    write_kubeconfig(path, server="https://127.0.0.1:6443", ca_pem=b"PEM", token="tok",
                     cluster_name="dev")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = yaml.safe_load(path.read_text())
    assert doc["current-context"] == "dev" and doc["kind"] == "Config"
    assert doc["clusters"][0]["cluster"]["certificate-authority-data"] == (
        base64.b64encode(b"PEM").decode()
    )
    cfg = load_kubeconfig(path)
    assert (cfg.server, cfg.ca_data, cfg.token, cfg.namespace, cfg.context) == (
        "https://127.0.0.1:6443", b"PEM", "tok", "default", "dev"
    )
    # Rewriting replaces the file whole.
    write_kubeconfig(path, server="https://127.0.0.2:6443", ca_pem=b"PEM2", token="t2",
                     cluster_name="dev")
    assert load_kubeconfig(path).server == "https://127.0.0.2:6443"
    assert [p.name for p in path.parent.iterdir()] == ["config"]


def test_load_resolves_files_context_and_namespace(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"CA")
    (tmp_path / "token").write_text("from-file\n")
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": "one",
        "clusters": [{"name": "c", "cluster": {"server": "https://h:1",
                                               "certificate-authority": "ca.crt"}}],
        "users": [{"name": "u", "user": {"tokenFile": "token"}},
                  {"name": "v", "user": {"token": "inline"}}],
        "contexts": [{"name": "one", "context": {"cluster": "c", "user": "u"}},
                     {"name": "two", "context": {"cluster": "c", "user": "v",
                                                 "namespace": "prod"}}],
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    one = load_kubeconfig(path)
    assert (one.ca_data, one.token, one.namespace) == (b"CA", "from-file", "default")
    two = load_kubeconfig(path, context="two")
    assert (two.token, two.namespace) == ("inline", "prod")
    with pytest.raises(errors.BadRequest, match="no context named 'three'"):
        load_kubeconfig(path, context="three")
    with pytest.raises(errors.BadRequest, match="cannot read kubeconfig"):
        load_kubeconfig(tmp_path / "missing")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")
async def test_kubectl_accepts_the_kubeconfig(api: FakeApi, kubeconfig: Path, tls: Tls) -> None:
    assert KUBECTL is not None
    api.objects["/api/v1/namespaces/default/services"] = {
        "a": {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "a"}},
    }

    async def kubectl(*args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            KUBECTL, "--kubeconfig", str(kubeconfig), *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, err.decode()
        return out.decode()

    assert (await kubectl("config", "current-context")).strip() == "kubesvc"
    view = json.loads(await kubectl("config", "view", "--raw", "-o", "json"))
    assert view["users"][0]["user"]["token"] == TOKEN
    assert base64.b64decode(view["clusters"][0]["cluster"]["certificate-authority-data"]) == (
        tls.ca_pem
    )
    # kubectl verifies our server against the CA and sends the bearer token.
    got = json.loads(await kubectl("get", "--raw", "/api/v1/namespaces/default/services/a"))
    assert got["metadata"]["name"] == "a"
    assert api.requests[-1].path == "/api/v1/namespaces/default/services/a"
