"""Ingress rendering: golden haproxy.cfg files for the spec's scenarios, matching semantics
(Prefix element-wise, wildcards), class selection, TLS Secrets good and bad, and (when
HAProxy is installed) ``haproxy -c`` accepting every rendered configuration."""

from __future__ import annotations

import base64
import datetime
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubesvc.ingress.render import (
    CLASS_NAME,
    CONTROLLER,
    MAP_HOSTS,
    MAP_PREFIX,
    MAPS,
    Inputs,
    Settings,
    is_ours,
    normalize_prefix,
    prefix_matches,
    render,
    slots,
    wildcard_matches,
)

GOLDEN = Path(__file__).parent / "golden"
SETTINGS = Settings(address="127.0.0.80", config_dir="/run/kubesvc/ingress")
HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy"
                                      if Path("/usr/sbin/haproxy").exists() else None)
OURS = {"metadata": {"name": CLASS_NAME, "annotations": {
    "ingressclass.kubernetes.io/is-default-class": "true"}},
    "spec": {"controller": CONTROLLER}}
OTHER = {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}


def backend(svc: str, port: int | str = 80) -> dict[str, Any]:
    key = "number" if isinstance(port, int) else "name"
    return {"service": {"name": svc, "port": {key: port}}}


def path(p: str, svc: str, typ: str = "Prefix", port: int | str = 80) -> dict[str, Any]:
    return {"path": p, "pathType": typ, "backend": backend(svc, port)}


def ingress(name: str, rules: list[dict[str, Any]], *, created: str = "2026-01-01T00:00:00Z",
            cls: str | None = CLASS_NAME, **spec: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"rules": rules, **spec}
    if cls:
        s["ingressClassName"] = cls
    return {"metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
            "spec": s}


def svc(name: str, ports: list[tuple[str, int]]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in ports]}}


def eslice(svc: str, port_name: str, port: int, ips: list[str],
           unready: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"metadata": {"name": f"{svc}-{port_name or 'x'}", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": svc}},
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ip not in unready}}
                          for ip in ips]}


def self_signed(host: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def tls_secret(name: str, crt: bytes, key: bytes, typ: str = "kubernetes.io/tls") -> Any:
    return {"metadata": {"name": name, "namespace": "default"}, "type": typ,
            "data": {"tls.crt": base64.b64encode(crt).decode(),
                     "tls.key": base64.b64encode(key).decode()}}


def scenario() -> Inputs:
    return Inputs(
        classes=[OURS, OTHER],
        services=[svc("foo", [("http", 80)]), svc("bar", [("web", 8080)]),
                  svc("def", [("", 80)])],
        slices=[eslice("foo", "http", 8080, ["127.1.0.2", "127.1.0.3", "127.1.0.9"],
                       unready=("127.1.0.9",)),
                eslice("bar", "web", 9090, ["127.1.0.4"]),
                eslice("def", "", 8080, ["127.1.0.5"])],
        ingresses=[
            ingress("a", [{"host": "foo.com", "http": {"paths": [
                path("/foo", "foo"), path("/exact", "bar", "Exact", 8080),
                path("/", "foo", "ImplementationSpecific")]}}],
                defaultBackend=backend("def")),
            # shares foo.com: a longer prefix, and /foo again (the older "a" wins)
            ingress("b", [{"host": "foo.com", "http": {"paths": [
                path("/foo/bar/", "bar", port="web"), path("/foo", "bar", port=8080)]}},
                {"host": "*.wild.com", "http": {"paths": [path("/", "bar", port=8080)]}},
                {"http": {"paths": [path("/any", "foo")]}}],
                created="2026-01-02T00:00:00Z"),
            ingress("nginx-owned", [{"host": "x.com", "http": {"paths": [
                path("/", "foo")]}}], cls="nginx"),
        ])


def check_golden(name: str, text: str) -> None:
    p = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        p.write_text(text)
    assert text == p.read_text(), f"{name} differs; rerun with UPDATE_GOLDEN=1 if intended"


def haproxy_check(tmp_path: Path, settings: Settings, inputs: Inputs) -> None:
    if HAPROXY is None:
        return
    d = tmp_path / "cfg"
    d.mkdir()
    s = Settings(address="127.0.0.80", config_dir=str(d))
    out = render(inputs, s)
    for name, data in out.files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
    (d / "haproxy.cfg").write_text(out.config)
    r = subprocess.run([HAPROXY, "-c", "-f", str(d / "haproxy.cfg")], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def maps_text(files: dict[str, bytes]) -> str:
    return "".join(f"## {n}\n{files[n].decode()}" for n in MAPS)


def test_routes_match_golden_and_haproxy_accepts_them(tmp_path: Path) -> None:
    out = render(scenario(), SETTINGS)
    check_golden("routes.cfg", out.config)
    check_golden("routes.maps", maps_text(out.files))
    assert out.served == [("default", "a"), ("default", "b")]
    assert out.problems == []
    haproxy_check(tmp_path, SETTINGS, scenario())


def test_no_ingress_renders_a_404_default(tmp_path: Path) -> None:
    out = render(Inputs(classes=[OURS]), SETTINGS)
    check_golden("empty.cfg", out.config)
    assert "default_backend be_default_404" in out.config
    haproxy_check(tmp_path, SETTINGS, Inputs())


def test_tls_good_and_bad_secrets(tmp_path: Path) -> None:
    crt, key = self_signed("secure.com")
    crt2, _ = self_signed("other.com")
    inputs = Inputs(
        classes=[OURS], services=[svc("foo", [("http", 80)])],
        secrets=[tls_secret("good", crt, key), tls_secret("mismatch", crt2, key),
                 tls_secret("opaque", crt, key, typ="Opaque")],
        ingresses=[ingress("t", [{"host": "secure.com", "http": {"paths": [
            path("/", "foo")]}}], tls=[
                {"hosts": ["secure.com"], "secretName": "good"},
                {"hosts": ["bad.com"], "secretName": "mismatch"},
                {"hosts": ["opaque.com"], "secretName": "opaque"},
                {"hosts": ["gone.com"], "secretName": "missing"}])])
    out = render(inputs, SETTINGS)
    check_golden("tls.cfg", out.config)
    assert out.files["certs/default_good.pem"] == crt + key
    assert out.files["crt-list.txt"] == (
        b"/run/kubesvc/ingress/certs/default_good.pem secure.com\n")
    reasons = {p.message.split(":")[0]: p.message for p in out.problems}
    assert set(reasons) == {"secret default/mismatch", "secret default/opaque",
                            "secret default/missing"}
    assert "does not match" in reasons["secret default/mismatch"]
    assert "not found; hosts gone.com are served without TLS" in reasons[
        "secret default/missing"]
    haproxy_check(tmp_path, SETTINGS, inputs)


def test_class_selection() -> None:
    ing = ingress("x", [], cls=None)
    assert is_ours(ing, [OURS, OTHER], SETTINGS)  # no class: the default class is ours
    assert not is_ours(ing, [OTHER], SETTINGS)
    other_default = {**OTHER, "metadata": {"name": "nginx", "annotations": {
        "ingressclass.kubernetes.io/is-default-class": "true"}}}
    assert not is_ours(ing, [other_default], SETTINGS)
    assert is_ours(ingress("x", [], cls="kubesvc"), [], SETTINGS)
    assert not is_ours(ingress("x", [], cls="nginx"), [OURS, OTHER], SETTINGS)
    legacy = ingress("x", [], cls=None)
    legacy["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    assert not is_ours(legacy, [OURS, OTHER], SETTINGS)


@pytest.mark.parametrize(("prefix", "path", "want"), [
    ("/foo", "/foo", True), ("/foo", "/foo/", True), ("/foo", "/foo/bar", True),
    ("/foo", "/foobar", False), ("/foo/", "/foo", True), ("/", "/anything", True),
    ("/aaa/bb", "/aaa/bbb", False), ("/aaa/bbb/", "/aaa/bbb", True),
])
def test_prefix_is_element_wise(prefix: str, path: str, want: bool) -> None:
    assert prefix_matches(prefix, path) is want


def test_wildcard_matches_one_label() -> None:
    assert wildcard_matches("*.foo.com", "bar.foo.com")
    assert not wildcard_matches("*.foo.com", "baz.bar.foo.com")
    assert not wildcard_matches("*.foo.com", "foo.com")
    assert normalize_prefix("/foo/") == "/foo" and normalize_prefix("/") == "/"


def test_unready_endpoints_and_unknown_service_have_no_servers() -> None:
    out = render(scenario(), SETTINGS)
    assert "127.1.0.9" not in out.config
    inputs = Inputs(classes=[OURS], ingresses=[ingress("n", [{"http": {"paths": [
        path("/", "nosuch")]}}])])
    out = render(inputs, SETTINGS)
    assert out.layout.assign == {"default/nosuch:80": "be_0"}
    assert "# default/nosuch:80\nbackend be_0\n  balance roundrobin\n" + "\n".join(
        f"  server s{i} 0.0.0.0:1 disabled" for i in range(1, 5)) in out.config
    assert out.files[MAP_PREFIX].endswith(b"\n*/ be_0\n")


def test_a_new_rule_or_service_changes_only_maps_and_server_lines() -> None:
    """Rendered from the previous layout, Services keep their backends and new ones take
    free ones: the configuration differs only in comments and server lines (the runtime
    API's part); the pool grows (a structural change) only once exhausted."""
    from kubesvc.ingress.haproxy import split_servers

    def inputs(n: int) -> Inputs:
        return Inputs(classes=[OURS], services=[svc(f"s{i}", [("http", 80)]) for i in range(n)],
                      slices=[eslice(f"s{i}", "http", 8080, [f"127.1.1.{i + 1}"])
                              for i in range(n)],
                      ingresses=[ingress(f"i{i}", [{"host": f"h{i}.com", "http": {"paths": [
                          path("/", f"s{i}")]}}]) for i in range(n)])

    first = render(inputs(3), SETTINGS)
    assert len(first.layout.slots) == 16
    prev, skeleton = first, split_servers(first.config)[0]
    for n in range(4, 17):
        out = render(inputs(n), SETTINGS, prev.layout)
        for key, be in prev.layout.assign.items():
            assert out.layout.assign[key] == be  # kept
        assert split_servers(out.config)[0] == skeleton, n
        assert f"h{n - 1}.com h{n - 1}.com".encode() in out.files[MAP_HOSTS]
        prev = out
    grown = render(inputs(17), SETTINGS, prev.layout)
    assert len(grown.layout.slots) == 32 and split_servers(grown.config)[0] != skeleton
    # a Service gone frees its backend, taken by the next new one
    fewer = render(inputs(16), SETTINGS, grown.layout)
    assert "default/s16:80" not in fewer.layout.assign
    assert "be_16" not in fewer.layout.assign.values()
    assert fewer.layout.slots == grown.layout.slots


def test_paths_that_cannot_be_map_keys_are_a_problem() -> None:
    inputs = Inputs(classes=[OURS], ingresses=[ingress("p", [{"http": {"paths": [
        path("/a b", "x"), path("/ok", "x")]}}])])
    out = render(inputs, SETTINGS)
    assert [p.reason for p in out.problems] == ["UnsupportedPath"]
    assert b"*/ok/ be_0" in out.files[MAP_PREFIX]


def test_slots_are_powers_of_two_of_at_least_four() -> None:
    assert [slots(n) for n in (0, 1, 4, 5, 8, 9, 17)] == [4, 4, 4, 8, 8, 16, 32]
