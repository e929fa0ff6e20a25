"""X.509 user mapping (upstream's CommonNameUserConversion), the admin client certificate
(issued by the cluster CA, reused, re-issued for a new CA) and the kubeconfig that carries
it; ``--client-ca-file`` and ``--cluster-signing-duration``."""

from __future__ import annotations

import base64
import datetime as dt
import ssl
from pathlib import Path

import aiohttp
import yaml
from cryptography import x509

from kubesvc.api import pki
from kubesvc.apiserver.http.server import ApiServer
from kubesvc.apiserver.http.tls import ensure_admin_cert, ensure_tls
from kubesvc.apiserver.http.x509auth import user_from_certificate
from kubesvc.apiserver.registry.core import Registry
from kubesvc.cli.commands import build_parser
from kubesvc.cli.serving import Serving
from kubesvc.client.kubeconfig import load_kubeconfig, write_kubeconfig
from kubesvc.storage.memory import MemoryStore


def _cert(tmp_path: Path, cn: str, orgs: list[str], usages: list[str]) -> x509.Certificate:
    files = ensure_tls(tmp_path)
    ca = pki.Authority.from_pem(files.ca_cert.read_bytes(), files.ca_key.read_bytes())
    name = pki.subject(cn, orgs) if cn else x509.Name(
        [x509.NameAttribute(x509.oid.NameOID.ORGANIZATION_NAME, o) for o in orgs])
    return ca.sign(pki.new_key().public_key(), name, usages=usages,
                   duration=dt.timedelta(hours=1), now=dt.datetime.now(dt.UTC))


def test_cn_and_o(tmp_path: Path) -> None:
    user = user_from_certificate(_cert(tmp_path, "alice", ["a", "b"], ["client auth"]))
    assert user is not None
    assert (user.name, user.groups) == ("alice", ("a", "b"))
    assert user_from_certificate(_cert(tmp_path, "", ["a"], ["client auth"])) is None
    assert user_from_certificate(_cert(tmp_path, "srv", [], ["server auth"])) is None


def test_admin_cert_reused_and_reissued_for_a_new_ca(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path)
    cert_pem, key_pem = ensure_admin_cert(files)
    cert = x509.load_pem_x509_certificate(cert_pem)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(files.ca_pem))
    assert cert.subject.rfc4514_string() == "CN=kubernetes-admin,O=system:masters"
    assert (tmp_path / "pki" / "admin.key").stat().st_mode & 0o777 == 0o600
    assert ensure_admin_cert(files) == (cert_pem, key_pem)
    files.ca_cert.unlink()
    files.ca_key.unlink()
    files = ensure_tls(tmp_path)  # a new CA
    again, _ = ensure_admin_cert(files)
    assert again != cert_pem
    x509.load_pem_x509_certificate(again).verify_directly_issued_by(
        x509.load_pem_x509_certificate(files.ca_pem))


def test_kubeconfig_with_client_certificate(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path)
    cert, key = ensure_admin_cert(files)
    path = tmp_path / "kc"
    write_kubeconfig(path, server="https://127.0.0.1:6443", ca_pem=files.ca_pem,
                     client_cert=cert, client_key=key)
    user = yaml.safe_load(path.read_text())["users"][0]["user"]
    assert set(user) == {"client-certificate-data", "client-key-data"}
    assert base64.b64decode(user["client-certificate-data"]) == cert
    cfg = load_kubeconfig(path)
    assert (cfg.client_cert_data, cfg.client_key_data, cfg.token) == (cert, key, "")


async def test_client_ca_file_replaces_the_cluster_ca(tmp_path: Path) -> None:
    other = ensure_tls(tmp_path / "other")
    reg = Registry(MemoryStore(), compact_interval=0)
    await reg.start()
    api = ApiServer(reg, data_dir=tmp_path / "d", port=0, client_ca_file=other.ca_cert)
    await api.start()
    try:
        ca = pki.Authority.from_pem(other.ca_cert.read_bytes(), other.ca_key.read_bytes())
        key = pki.new_key()
        cert = ca.sign(key.public_key(), pki.subject("ext-user", ["system:masters"]),
                       usages=["client auth"], duration=dt.timedelta(hours=1),
                       now=dt.datetime.now(dt.UTC))
        (tmp_path / "c.pem").write_bytes(pki.cert_pem(cert) + pki.key_pem(key))
        admin_cert, admin_key = api.admin_cert()  # signed by the cluster CA: not trusted
        (tmp_path / "a.pem").write_bytes(admin_cert + admin_key)

        async def whoami(pem: Path) -> str:
            ctx = ssl.create_default_context(cadata=api.ca_pem.decode())
            ctx.load_cert_chain(str(pem))
            async with aiohttp.ClientSession() as s, s.post(
                    api.url + "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                    json={"apiVersion": "authentication.k8s.io/v1",
                          "kind": "SelfSubjectReview"}, ssl=ctx) as r:
                body = await r.json()
                return str(body["status"]["userInfo"]["username"])

        assert await whoami(tmp_path / "c.pem") == "ext-user"
        try:
            await whoami(tmp_path / "a.pem")
        except aiohttp.ClientError:
            pass
        else:
            raise AssertionError("a certificate of the cluster CA was accepted")
    finally:
        await api.stop()
        await reg.stop()


def test_flags() -> None:
    a = build_parser().parse_args(["server", "--client-ca-file", "/x/ca.crt",
                                   "--cluster-signing-duration", "2h"])
    s = Serving.from_args(a)
    assert s.client_ca_file == Path("/x/ca.crt") and s.cluster_signing_duration == 7200
    assert s.api_server_kwargs()["client_ca_file"] == Path("/x/ca.crt")
    assert Serving().cluster_signing_duration == 365 * 86400
