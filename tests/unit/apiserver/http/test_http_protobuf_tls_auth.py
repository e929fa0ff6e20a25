"""Unit tests: protobuf body decoding, TLS material generation/reuse, token file."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography import x509

from kubesvc import errors
from kubesvc.apiserver.http.auth import TokenFile
from kubesvc.apiserver.http.protobuf import decode as pb
from kubesvc.apiserver.http.tls import ensure_tls


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _f(num: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return _varint(num << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def _entry(num: int, k: str, v: str) -> bytes:
    return _f(num, _f(1, k) + _f(2, v))


def test_decode_service_like_go_writes_it() -> None:
    meta = (_f(1, "web") + _f(2, "") + _f(3, "") + _f(7, 0) + _f(8, b"")
            + _entry(11, "app", "web"))
    port = _f(1, "http") + _f(2, "TCP") + _f(3, 80) + _f(4, _f(1, 0) + _f(2, 8080)) + _f(5, 0)
    port2 = _f(3, 443) + _f(4, _f(1, 1) + _f(3, "https"))
    spec = (_f(1, port) + _f(1, port2) + _entry(2, "app", "web") + _f(4, "ClusterIP")
            + _f(12, -5) + _f(13, 0) + _f(20, 0))
    raw = _f(1, meta) + _f(2, spec) + _f(3, b"")
    body = pb.MAGIC + _f(1, _f(1, "v1") + _f(2, "Service")) + _f(2, raw)
    obj = pb.decode(body)
    assert obj == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "ports": [
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {"port": 443, "targetPort": "https"},
            ],
            "selector": {"app": "web"},
            "type": "ClusterIP",
            "healthCheckNodePort": -5,
            "allocateLoadBalancerNodePorts": False,
        },
    }


def test_decode_inlines_embedded_structs() -> None:
    """Volume.volumeSource, Probe.handler, the LocalObjectReference of configMap/secret
    references are Go's ``json:",inline"``: kubectl debug posts pods in protobuf (node/N:
    a hostPath volume; --copy-to: the projected kube-api-access volume), which must not
    become unknown fields."""
    volume = _f(1, "host-root") + _f(2, _f(1, _f(1, "/")))  # VolumeSource.hostPath.path
    probe = _f(1, _f(1, _f(1, "true"))) + _f(4, 5)  # handler.exec.command, periodSeconds
    container = _f(1, "debugger") + _f(2, "busybox") + _f(10, probe)
    cm = _f(1, "cm") + _f(2, _f(19, _f(1, _f(1, "kube-root-ca.crt"))))  # configMap.name
    spec = _f(1, volume) + _f(1, cm) + _f(2, container)
    body = pb.MAGIC + _f(1, _f(1, "v1") + _f(2, "Pod")) + _f(2, _f(1, _f(1, "p")) + _f(2, spec))
    obj = pb.decode(body)
    assert obj["spec"]["volumes"] == [{"name": "host-root", "hostPath": {"path": "/"}},
                                      {"name": "cm", "configMap": {"name": "kube-root-ca.crt"}}]
    assert obj["spec"]["containers"][0]["livenessProbe"] == {
        "exec": {"command": ["true"]}, "periodSeconds": 5}


def test_decode_rejects_garbage() -> None:
    with pytest.raises(errors.BadRequest):
        pb.decode(b"{}")
    with pytest.raises(errors.BadRequest):
        pb.decode(pb.MAGIC + _f(1, _f(1, "v1") + _f(2, "Widget")) + _f(2, b""))
    with pytest.raises(errors.BadRequest):
        pb.decode(pb.MAGIC + b"\x0a\xff")


def test_tls_generated_once_and_reused(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path, extra_sans=["10.0.0.7", "node1.example"])
    cert = x509.load_pem_x509_certificate(first.cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert "node1.example" in san.get_values_for_type(x509.DNSName)
    ips = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    assert {"127.0.0.1", "10.0.0.7"} <= ips
    ca_before, cert_before = first.ca_pem, first.cert.read_bytes()
    again = ensure_tls(tmp_path, extra_sans=["10.0.0.7"])
    assert again.ca_pem == ca_before and again.cert.read_bytes() == cert_before
    grown = ensure_tls(tmp_path, extra_sans=["10.0.0.8"])
    assert grown.ca_pem == ca_before and grown.cert.read_bytes() != cert_before
    # The serving cert verifies against the CA.
    ctx = ssl.create_default_context(cadata=grown.ca_pem.decode())
    assert ctx.get_ca_certs()
    grown.server_context()


def test_token_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    tf = TokenFile.load_or_create(path)
    admin = tf.admin_token
    user = tf.authenticate(f"Bearer {admin}")
    assert user is not None and user.name == "kubernetes-admin"
    assert "system:masters" in user.groups
    assert tf.authenticate("Bearer nope") is None
    assert tf.authenticate(f"Basic {admin}") is None
    assert tf.authenticate(None) is None
    agent = tf.issue("system:node:n1", groups=("system:nodes",))
    reloaded = TokenFile.load_or_create(path)
    assert reloaded.admin_token == admin
    got = reloaded.authenticate(f"Bearer {agent}")
    assert got is not None and got.name == "system:node:n1"
    assert path.stat().st_mode & 0o077 == 0


def test_generated_tables_are_what_the_generator_writes() -> None:
    """schema.py is render()'s output for its own tables: the one shared Container table
    (EphemeralContainerCommon has the same 25 fields) and every other table written out."""
    from kubesvc.apiserver.http.protobuf import generate, schema

    text = Path(schema.__file__).read_text()
    assert generate.render(schema.MESSAGES, set(schema.MESSAGES)) == text
    assert text.count("_CONTAINER_FIELDS,") == 2
    assert schema.MESSAGES["k8s.io.api.core.v1.EphemeralContainerCommon"][25] == (
        "restartPolicyRules", "k8s.io.api.core.v1.ContainerRestartRule", 1
    )
    # Small tables that happen to match (AppArmorProfile, SeccompProfile) are not shared.
    assert "_APP_ARMOR_PROFILE_FIELDS" not in text
    unshared = generate.render(schema.MESSAGES, set(schema.MESSAGES), share_from=10**6)
    assert "_FIELDS" not in unshared
    assert unshared.count("1: ('name', 'string', 0),") > text.count("1: ('name', 'string', 0),")
