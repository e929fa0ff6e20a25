"""X.509 client certificates and the certificates.k8s.io CSR API over HTTPS: a certificate
signed by the cluster CA authenticates as CN in the O groups (aiohttp client and kubectl
with a client-certificate kubeconfig), one from another CA fails the handshake, and a CSR
records its requester from the credential (never the body), answers upstream's
validation messages, and is approved/denied by real ``kubectl certificate``."""

from __future__ import annotations

import base64
import datetime as dt
import json
import ssl
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509

from kubesvc.api import pki
from kubesvc.api.rbac.attributes import Attributes
from kubesvc.client.kubeconfig import write_kubeconfig
from tests.integration.apiserver.harness import Http, Kubectl, ServerThread

CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
SSR = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


def _client_cert(server: ServerThread, cn: str, orgs: list[str], tmp: Path,
                 *, usages: tuple[str, ...] = ("digital signature", "client auth"),
                 ca: pki.Authority | None = None) -> tuple[Path, Path]:
    tls = server.server.tls
    assert tls is not None
    ca = ca or pki.Authority.from_pem(tls.ca_cert.read_bytes(), tls.ca_key.read_bytes())
    key = pki.new_key()
    cert = ca.sign(key.public_key(), pki.subject(cn, orgs), usages=list(usages),
                   duration=dt.timedelta(hours=1), now=dt.datetime.now(dt.UTC))
    cert_path, key_path = tmp / f"{cn}.crt", tmp / f"{cn}.key"
    cert_path.write_bytes(pki.cert_pem(cert))
    key_path.write_bytes(pki.key_pem(key))
    return cert_path, key_path


async def _ask(server: ServerThread, cert: tuple[Path, Path], method: str, path: str,
               body: Any = None) -> tuple[int, Any]:
    ctx = ssl.create_default_context(cadata=server.server.ca_pem.decode())
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    async with aiohttp.ClientSession() as s, s.request(
            method, server.server.url + path, json=body, ssl=ctx) as resp:
        return resp.status, await resp.json(content_type=None)


def _whoami(server: ServerThread, cert: tuple[Path, Path]) -> tuple[int, Any]:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    return server.run(_ask(server, cert, "POST", SSR, body))


def test_certificate_authenticates_as_cn_in_o_groups(server: ServerThread,
                                                     tmp_path: Path) -> None:
    cert = _client_cert(server, "alice", ["devs", "qa"], tmp_path)
    code, review = _whoami(server, cert)
    assert code == 201, review
    info = review["status"]["userInfo"]
    assert info["username"] == "alice"
    assert info["groups"] == ["devs", "qa", "system:authenticated"]
    # RBAC judges the certificate's user like any other.
    code, status = server.run(_ask(server, cert, "GET", "/api/v1/namespaces/default/secrets"))
    assert code == 403
    assert status["message"] == ('secrets is forbidden: User "alice" cannot list resource '
                                 '"secrets" in API group "" in the namespace "default"')


def test_admin_certificate_is_in_system_masters(server: ServerThread) -> None:
    cert_pem, key_pem = server.server.admin_cert()
    d = server.data_dir / "pki"
    code, review = _whoami(server, (d / "admin.crt", d / "admin.key"))
    assert code == 201
    assert review["status"]["userInfo"]["username"] == "kubernetes-admin"
    assert "system:masters" in review["status"]["userInfo"]["groups"]
    assert (d / "admin.key").stat().st_mode & 0o777 == 0o600
    assert server.server.admin_cert() == (cert_pem, key_pem)  # reused, not re-issued


def test_server_only_certificate_is_refused(server: ServerThread, tmp_path: Path) -> None:
    # OpenSSL checks the client purpose during the handshake (upstream's verifier checks
    # ExtKeyUsageClientAuth after it, answering 401): either way no one is authenticated.
    cert = _client_cert(server, "srv", [], tmp_path, usages=("server auth",))
    with pytest.raises(aiohttp.ClientError):
        _whoami(server, cert)


def test_certificate_from_another_ca_fails_the_handshake(server: ServerThread,
                                                         tmp_path: Path) -> None:
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    from kubesvc.apiserver.http.tls import ensure_tls

    other = ensure_tls(other_dir)
    ca = pki.Authority.from_pem(other.ca_cert.read_bytes(), other.ca_key.read_bytes())
    cert = _client_cert(server, "mallory", ["system:masters"], tmp_path, ca=ca)
    with pytest.raises(aiohttp.ClientError):
        _whoami(server, cert)


def test_kubectl_with_a_client_certificate_kubeconfig(server: ServerThread,
                                                      kubectl: Kubectl,
                                                      tmp_path: Path) -> None:
    cert_pem, key_pem = server.server.admin_cert()
    path = tmp_path / "admin.conf"
    write_kubeconfig(path, server=server.server.url, ca_pem=server.server.ca_pem,
                     client_cert=cert_pem, client_key=key_pem)
    cert_only = Kubectl(path, tmp_path)
    out = cert_only("auth", "whoami", "-o", "json").stdout
    info = json.loads(out)["status"]["userInfo"]
    assert info["username"] == "kubernetes-admin"
    assert "system:masters" in info["groups"]


def _csr_body(name: str, cn: str = "system:node:n1", orgs: tuple[str, ...] = ("system:nodes",),
              **spec: Any) -> dict[str, Any]:
    request = pki.make_csr(pki.new_key(), cn, list(orgs))
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {"request": base64.b64encode(request).decode(),
                     "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                     "usages": ["digital signature", "client auth"], **spec}}


def test_csr_requester_comes_from_the_credential(server: ServerThread, http: Http,
                                                 tmp_path: Path) -> None:
    cert = _client_cert(server, "bob", ["builders"], tmp_path)
    body = _csr_body("csr-bob", username="system:admin", groups=["system:masters"])
    # bob may not create CSRs yet: bind him the node-bootstrapper role.
    code, out = http.json("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        "metadata": {"name": "bob-csr"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:node-bootstrapper"},
        "subjects": [{"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}],
    })
    assert code == 201, out
    for _ in range(100):  # until the RBAC cache has the binding
        code, out = server.run(_ask(server, cert, "POST", CSRS, body))
        if code != 403:
            break
        time.sleep(0.05)
    assert code == 201, out
    assert out["spec"]["username"] == "bob"
    assert out["spec"]["groups"] == ["builders", "system:authenticated"]
    assert "status" not in out or not out["status"].get("conditions")
    # The spec cannot change afterwards.
    out["spec"]["username"] = "eve"
    code, upd = http.json("PUT", f"{CSRS}/csr-bob", out)
    assert code == 200 and upd["spec"]["username"] == "bob"


def test_csr_validation_messages(http: Http) -> None:
    body = _csr_body("bad", usages=[], expirationSeconds=60, signerName="nodomain")
    body["spec"]["request"] = base64.b64encode(b"not a pem").decode()
    code, status = http.json("POST", CSRS, body)
    assert code == 422, status
    fields = {c["field"]: c["message"] for c in status["details"]["causes"]}
    assert fields["spec.request"].endswith("PEM block type must be CERTIFICATE REQUEST")
    assert fields["spec.usages"] == "Required value"
    assert fields["spec.signerName"] == ("Invalid value: \"nodomain\": must be a fully qualified "
                                         "domain and path of the form "
                                         "'example.com/signer-name'")
    assert fields["spec.expirationSeconds"] == ("Invalid value: 60: may not specify a duration "
                                                "less than 600 seconds (10 minutes)")
    assert status["message"].startswith(
        'CertificateSigningRequest.certificates.k8s.io "bad" is invalid: ')


def test_status_update_may_not_approve(http: Http) -> None:
    code, csr = http.json("POST", CSRS, _csr_body("csr-status"))
    assert code == 201
    csr["status"] = {"conditions": [{"type": "Approved", "status": "True"}]}
    code, status = http.json("PUT", f"{CSRS}/csr-status/status", csr)
    assert code == 422
    assert status["details"]["causes"][0]["message"] == (
        'Forbidden: updates may not add a condition of type "Approved"')
    code, out = http.json("PUT", f"{CSRS}/csr-status/approval", csr)
    assert code == 200, out
    cond = out["status"]["conditions"][0]
    assert cond["type"] == "Approved" and cond["lastUpdateTime"]
    # Once approved, Denied cannot join it.
    out["status"]["conditions"].append({"type": "Denied", "status": "True"})
    code, status = http.json("PUT", f"{CSRS}/csr-status/approval", out)
    assert code == 422
    assert "Approved and Denied conditions are mutually exclusive" in status["message"]


def test_kubectl_get_approve_deny(kubectl: Kubectl, http: Http) -> None:
    for name in ("csr-a", "csr-d"):
        assert http.json("POST", CSRS, _csr_body(name, expirationSeconds=3600))[0] == 201
    out = kubectl("get", "csr", "csr-a").stdout.split("\n")
    assert out[0].split() == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION",
                              "CONDITION"]
    row = out[1].split()
    assert row[0] == "csr-a" and row[2] == "kubernetes.io/kube-apiserver-client-kubelet"
    assert row[3] == "kubernetes-admin" and row[4] == "60m" and row[5] == "Pending"
    assert "approved" in kubectl("certificate", "approve", "csr-a").stdout
    assert "denied" in kubectl("certificate", "deny", "csr-d").stdout
    got = {line.split()[0]: line.split()[-1]
           for line in kubectl("get", "csr", "--no-headers").stdout.splitlines()}
    assert got["csr-a"] == "Approved" and got["csr-d"] == "Denied"
    _, csr = http.json("GET", f"{CSRS}/csr-a")
    cond = csr["status"]["conditions"][0]
    assert cond["reason"] == "KubectlApprove" and cond["status"] == "True"
    described = kubectl("describe", "csr", "csr-a").stdout
    assert "Requesting User:     kubernetes-admin" in described
    assert "Signer:              kubernetes.io/kube-apiserver-client-kubelet" in described
    assert "Status:              Approved" in described
    assert "Common Name:    system:node:n1" in described
    # Approving a denied one is refused by kubectl itself (it reads the conditions).
    proc = kubectl("certificate", "approve", "csr-d", check=False)
    assert proc.returncode != 0


def test_certificate_parsed_by_cryptography(server: ServerThread) -> None:
    cert_pem, _ = server.server.admin_cert()
    cert = x509.load_pem_x509_certificate(cert_pem)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH in eku


def _wait_allowed(fn: Any) -> tuple[int, Any]:
    for _ in range(100):  # until the RBAC cache has the new objects
        code, out = fn()
        if code != 403 or "cannot" not in str(out.get("message")):
            return code, out
        time.sleep(0.05)
    return code, out


def test_approval_needs_approve_on_the_signer(server: ServerThread, http: Http,
                                              tmp_path: Path) -> None:
    cert = _client_cert(server, "carol", [], tmp_path)
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    assert http.json("POST", f"{rbac}/clusterroles", {
        "metadata": {"name": "csr-approver-test"},
        "rules": [{"apiGroups": ["certificates.k8s.io"], "verbs": ["get", "update"],
                   "resources": ["certificatesigningrequests",
                                 "certificatesigningrequests/approval"]}]})[0] == 201
    assert http.json("POST", f"{rbac}/clusterrolebindings", {
        "metadata": {"name": "carol-approver"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "csr-approver-test"},
        "subjects": [{"kind": "User", "name": "carol",
                      "apiGroup": "rbac.authorization.k8s.io"}]})[0] == 201
    code, csr = http.json("POST", CSRS, _csr_body("csr-carol"))
    assert code == 201
    csr["status"] = {"conditions": [{"type": "Approved", "status": "True"}]}
    code, status = _wait_allowed(lambda: server.run(
        _ask(server, cert, "PUT", f"{CSRS}/csr-carol/approval", csr)))
    assert code == 403, status
    assert status["message"] == (
        'certificatesigningrequests.certificates.k8s.io "csr-carol" is forbidden: user not '
        'permitted to approve requests with signerName '
        '"kubernetes.io/kube-apiserver-client-kubelet"')
    assert http.json("POST", f"{rbac}/clusterroles", {
        "metadata": {"name": "signer-approver-test"},
        "rules": [{"apiGroups": ["certificates.k8s.io"], "verbs": ["approve"],
                   "resources": ["signers"], "resourceNames": ["kubernetes.io/*"]}]})[0] == 201
    assert http.json("POST", f"{rbac}/clusterrolebindings", {
        "metadata": {"name": "carol-signer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "signer-approver-test"},
        "subjects": [{"kind": "User", "name": "carol",
                      "apiGroup": "rbac.authorization.k8s.io"}]})[0] == 201
    for _ in range(100):
        code, out = server.run(_ask(server, cert, "PUT", f"{CSRS}/csr-carol/approval", csr))
        if code != 403:
            break
        time.sleep(0.05)
    assert code == 200, out
    assert out["status"]["conditions"][0]["type"] == "Approved"


def test_no_system_masters_through_the_client_signer(http: Http) -> None:
    body = _csr_body("masters", cn="root", orgs=("system:masters",),
                     signerName="kubernetes.io/kube-apiserver-client")
    code, status = http.json("POST", CSRS, body)
    assert code == 403
    assert status["message"] == (
        'certificatesigningrequests.certificates.k8s.io "masters" is forbidden: use of '
        'kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed')


@pytest.mark.parametrize(("user", "groups", "sub", "allowed"), [
    ("system:node:n1", ("system:nodes",), "selfnodeclient", True),
    ("system:node:n1", ("system:nodes",), "nodeclient", False),
    ("system:bootstrap:abcdef", ("system:bootstrappers",
                                 "system:bootstrappers:kubesvc:default-node-token"),
     "nodeclient", True),
    ("system:bootstrap:abcdef", ("system:bootstrappers",
                                 "system:bootstrappers:kubesvc:default-node-token"),
     "selfnodeclient", False),
    ("mallory", (), "nodeclient", False),
])
def test_bootstrap_policy_for_the_approver(server: ServerThread, user: str,
                                           groups: tuple[str, ...], sub: str,
                                           allowed: bool) -> None:
    attrs = Attributes(user, (*groups, "system:authenticated"), "create",
                       api_group="certificates.k8s.io", api_version="*",
                       resource="certificatesigningrequests", subresource=sub)
    assert server.server.authorize(attrs) is allowed
    # Bootstrappers and nodes may create and read CSRs (the node-bootstrapper role).
    create = Attributes(user, (*groups, "system:authenticated"), "create",
                        api_group="certificates.k8s.io", api_version="v1",
                        resource="certificatesigningrequests")
    assert server.server.authorize(create) is (user != "mallory")


def test_field_selector_on_signer_name(http: Http) -> None:
    assert http.json("POST", CSRS, _csr_body(
        "sel-client", cn="x", orgs=(), signerName="kubernetes.io/kube-apiserver-client"))[0] \
        == 201
    code, lst = http.json(
        "GET", f"{CSRS}?fieldSelector=spec.signerName%3Dkubernetes.io/kube-apiserver-client")
    assert code == 200
    names = {i["metadata"]["name"] for i in lst["items"]}
    assert "sel-client" in names
    assert all(i["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client"
               for i in lst["items"])
    code, status = http.json("GET", f"{CSRS}?fieldSelector=spec.usages%3Dx")
    assert code == 400 and status["message"] == "field label not supported: spec.usages"
