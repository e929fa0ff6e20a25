"""Issue 18, TLS bootstrapping, against real ``kubesvc server`` and ``kubesvc agent``
processes and the real ``kubectl``: an agent started with a bootstrap token posts a CSR as
``system:bootstrap:<id>``, the approver and signer issue it (``kubectl get csr`` shows it
Approved,Issued), the agent keeps the certificate 0600 in its dir and from then on writes as
``system:node:<name>`` (the audit log says so), and on restart reuses it — even after its
bootstrap token is deleted. A CSR for the ``kube-apiserver-client`` signer is approved with
``kubectl certificate approve``, signed, and the certificate works in a kubeconfig."""

from __future__ import annotations

import base64
import json
import random
import subprocess
from pathlib import Path

import pytest
import yaml

from kubesvc.api import bootstraptoken as bt
from kubesvc.api import pki
from tests.e2e.conftest import KUBESVC, MISSING, ROOT
from tests.e2e.test_scaleout import Proc, free_port, wait_for

pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING or "ok")
NODE = "tls-node-1"


def _kubectl(kubeconfig: Path, *args: str, input: str | None = None,
             check: bool = True) -> str:
    r = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], input=input,
                       capture_output=True, text=True, timeout=30)
    if check:
        assert r.returncode == 0, f"kubectl {args}: {r.stderr}"
    return r.stdout


def _csr_rows(kubeconfig: Path) -> dict[str, list[str]]:
    out = _kubectl(kubeconfig, "get", "csr", "--no-headers")
    return {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}


def _audit_users(path: Path) -> list[tuple[str, str, str]]:
    out = []
    for line in path.read_text().splitlines():
        ev = json.loads(line)
        out.append((ev["user"]["username"], ev["verb"], ev["objectRef"].get("resource", "")))
    return out


def test_agent_bootstraps_a_node_client_certificate(tmp_path: Path) -> None:
    octet = random.randint(150, 249)
    host = f"127.{octet}.9.1"
    port = free_port(host)
    data = tmp_path / "server"
    audit = tmp_path / "audit.log"
    kubeconfig = data / "kubeconfig"
    server = Proc("server", [
        *KUBESVC, "server", "--data-dir", str(data), "--api-host", host, "--api-port",
        str(port), "--dns-addr", f"{host}:{free_port(host)}",
        "--service-cidr", f"127.{octet}.128.0/17", "--lb-pool", f"127.{octet}.2.0/24",
        "--audit-log-path", str(audit)], tmp_path / "server.log").start()
    agent_dir = tmp_path / "agent"
    token_file = tmp_path / "token"
    agent_argv = [
        *KUBESVC, "agent", "--server", f"https://{host}:{port}", "--token-file",
        str(token_file), "--ca-file", str(data / "pki" / "ca.crt"), "--node-name", NODE,
        "--node-ip", f"127.{octet}.9.2", "--pod-cidr", f"127.{octet}.16.0/24",
        "--data-dir", str(agent_dir), "--runtime", "simulated", "--proxy", "none",
        "--node-lease-duration-seconds", "4"]
    agent = Proc("agent", agent_argv, tmp_path / "agent.log")
    try:
        server.wait_line("is ready", timeout=30)
        token = subprocess.run([*KUBESVC, "token", "create", "--kubeconfig", str(kubeconfig),
                                "--ttl", "1h"], capture_output=True, text=True, cwd=ROOT,
                               timeout=30, check=True).stdout.strip()
        token_id = token.split(".")[0]
        token_file.write_text(token + "\n")
        agent.start()
        agent.wait_line("is ready", timeout=60)

        # The Node is registered and its CSR, by the bootstrap user, is approved and issued.
        node = json.loads(_kubectl(kubeconfig, "get", "node", NODE, "-o", "json"))
        assert node["metadata"]["name"] == NODE
        rows = {n: r for n, r in _csr_rows(kubeconfig).items() if n.startswith("node-csr-")}
        assert len(rows) == 1, rows
        (row,) = rows.values()
        assert row[2:] == ["kubernetes.io/kube-apiserver-client-kubelet",
                           f"system:bootstrap:{token_id}", "<none>", "Approved,Issued"]
        pem = agent_dir / "pki" / "kubelet-client-current.pem"
        assert pem.stat().st_mode & 0o777 == 0o600
        assert b"BEGIN CERTIFICATE" in pem.read_bytes()
        assert b"PRIVATE KEY" in pem.read_bytes()

        # Everything it wrote after the CSR, it wrote as the node.
        def node_writes() -> list[tuple[str, str, str]]:
            return [u for u in _audit_users(audit) if u[2] in ("nodes", "leases")]
        writes = wait_for(node_writes, timeout=20, what="node and lease writes")
        assert {u for u, _, _ in writes} == {f"system:node:{NODE}"}, writes
        csr_writers = {u for u, v, r in _audit_users(audit)
                       if r == "certificatesigningrequests" and v == "create"}
        assert csr_writers == {f"system:bootstrap:{token_id}"}

        # Restart without the bootstrap token: the kept certificate is enough.
        agent.term()
        _kubectl(kubeconfig, "-n", "kube-system", "delete", "secret",
                 bt.secret_name(token_id))
        mark = agent.log_size()
        agent.start()
        agent.wait_line("is ready", timeout=60, after=mark)
        assert "using the client certificate" in agent.log_path.read_text()[mark:]
        assert len([n for n in _csr_rows(kubeconfig) if n.startswith("node-csr-")]) == 1
        before = len(node_writes())
        wait_for(lambda: len(node_writes()) > before, timeout=20, what="lease renewals")
        assert {u for u, _, _ in node_writes()} == {f"system:node:{NODE}"}
    finally:
        agent.term()
        server.term()
    _kube_apiserver_client_signer_flow(tmp_path, server, kubeconfig)


def _kube_apiserver_client_signer_flow(tmp_path: Path, server: Proc,
                                       kubeconfig: Path) -> None:
    """kubectl create + certificate approve; the signer issues; the cert authenticates."""
    server.start()
    try:
        server.wait_line("is ready", timeout=30, after=0)
        key = pki.new_key()
        request = pki.make_csr(key, "jane", ["qa"])
        manifest = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                    "metadata": {"name": "jane"},
                    "spec": {"request": base64.b64encode(request).decode(),
                             "signerName": "kubernetes.io/kube-apiserver-client",
                             "expirationSeconds": 86400,
                             "usages": ["client auth", "digital signature"]}}
        wait_for(lambda: _kubectl(kubeconfig, "create", "-f", "-",
                                  input=json.dumps(manifest)), timeout=20, what="create csr")
        assert _csr_rows(kubeconfig)["jane"][-1] == "Pending"
        assert "approved" in _kubectl(kubeconfig, "certificate", "approve", "jane")
        wait_for(lambda: _csr_rows(kubeconfig)["jane"][-1] == "Approved,Issued", timeout=20,
                 what="jane's certificate")
        assert _csr_rows(kubeconfig)["jane"][4] == "24h"
        cert = _kubectl(kubeconfig, "get", "csr", "jane", "-o",
                        "jsonpath={.status.certificate}")
        conf = yaml.safe_load(kubeconfig.read_text())
        conf["users"][0]["user"] = {
            "client-certificate-data": cert,
            "client-key-data": base64.b64encode(pki.key_pem(key)).decode()}
        jane = tmp_path / "jane.conf"
        jane.write_text(yaml.safe_dump(conf))
        info = json.loads(_kubectl(jane, "auth", "whoami", "-o", "json"))["status"]["userInfo"]
        assert info["username"] == "jane"
        assert info["groups"] == ["qa", "system:authenticated"]
        r = subprocess.run(["kubectl", "--kubeconfig", str(jane), "get", "secrets"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1
        assert 'User "jane" cannot list resource "secrets"' in r.stderr
    finally:
        server.term()
