"""The kubernetes-sigs/ingress-controller-conformance scenarios (see :mod:`.cases_ingress`)
against the session's ``kubesvc up`` and its ingress controller (HAProxy on the address
just past the LB pool, ports 80/443). One namespace holds the suite's Services, each one
pod of a small HTTP echo server that answers its pod name, the request's method, path,
proto and headers as JSON (the suite's echoserver image's part), and the path-rule,
host-rule and ingress-class Ingresses, created once for the module. The two defaultBackend
Ingresses are made by their tests and deleted before they return, because a default backend
serves every unmatched request of the cluster and the 404 cases expect none.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubesvc.ingress.haproxy import find_haproxy
from tests.conformance.framework import unique
from tests.e2e.conftest import Cluster

pytestmark = [
    pytest.mark.skipif(find_haproxy() is None,
                       reason="needs haproxy (scripts/system-deps.sh installs it)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the ingress binds ports 80 and 443: "
                                                  "needs root"),
]

ECHO = r"""
import http.server, json, os
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"pod": os.environ["POD_NAME"], "method": self.command,
                           "path": self.path, "proto": self.request_version,
                           "host": self.headers.get("Host", ""),
                           "headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = answer
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer((os.environ["POD_IP"], 8080), H).serve_forever()
"""

SERVICES = {"echo-service": 10, "wildcard-foo-com": 1, "foo-bar-com": 1, "foo-exact": 1,
            "foo-prefix": 1, "aaa-slash-bbb-prefix": 1, "aaa-prefix": 1,
            "aaa-slash-bbb-slash-prefix": 1, "foo-slash-exact": 1}


def _backend(svc: str, port: int | str = 8080) -> dict[str, Any]:
    return {"service": {"name": svc, "port": {"number": port} if isinstance(port, int)
                        else {"name": port}}}


def _rule(host: str, *paths: tuple[str, str, str]) -> dict[str, Any]:
    return {"host": host, "http": {"paths": [
        {"path": p, "pathType": t, "backend": _backend(s)} for p, t, s in paths]}}


def _ingress(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name}, "spec": spec}


PATH_RULES = _ingress("path-rules", {"rules": [
    _rule("exact-path-rules", ("/foo", "Exact", "foo-exact")),
    _rule("prefix-path-rules", ("/foo", "Prefix", "foo-prefix"),
          ("/aaa/bbb", "Prefix", "aaa-slash-bbb-prefix"), ("/aaa", "Prefix", "aaa-prefix")),
    _rule("mixed-path-rules", ("/foo", "Prefix", "foo-prefix"), ("/foo", "Exact", "foo-exact")),
    _rule("trailing-slash-path-rules", ("/aaa/bbb/", "Prefix", "aaa-slash-bbb-slash-prefix"),
          ("/foo/", "Exact", "foo-slash-exact")),
]})
HOST_RULES = _ingress("host-rules", {
    "tls": [{"hosts": ["foo.bar.com"], "secretName": "conformance-tls"}],
    "rules": [_rule("*.foo.com", ("/", "Prefix", "wildcard-foo-com")),
              {"host": "foo.bar.com", "http": {"paths": [
                  {"path": "/", "pathType": "Prefix", "backend": _backend("foo-bar-com",
                                                                          "http")}]}}]})
INGRESS_CLASS = _ingress("test-ingress-class", {
    "ingressClassName": "some-invalid-class-name",
    "rules": [_rule("ingress-class", ("/", "Prefix", "ingress-class-prefix"))]})


def _self_signed(host: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


class Icc:
    """The suite's namespace on the cluster, and requests through the ingress address."""

    def __init__(self, c: Cluster, ns: str, address: str, ca: Path) -> None:
        self.c, self.ns, self.address, self.ca = c, ns, address, ca

    def kubectl(self, *args: str, input: str | None = None) -> str:
        return self.c.kubectl("-n", self.ns, *args, input=input).stdout

    def apply(self, obj: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input=json.dumps(obj))

    def request(self, method: str, host: str, path: str = "/") -> tuple[int, dict[str, Any],
                                                                        http.client.HTTPResponse]:
        conn = http.client.HTTPConnection(self.address, 80, timeout=5)
        try:
            headers = {"User-Agent": "kubesvc-conformance/1.1"}
            if host:
                headers["Host"] = host
            else:  # a request with no Host of its own: the address, as a client would send
                headers["Host"] = self.address
            conn.request(method, path, body=b"" if method in ("POST", "PUT", "PATCH")
                         else None, headers=headers)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        try:
            body = json.loads(data) if r.status == 200 else {}
        except ValueError:
            body = {"raw": data.decode(errors="replace")}
        return r.status, body, r

    def served_by(self, host: str, path: str, svc: str | None, *, code: int = 200,
                  timeout: float = 20) -> dict[str, Any]:
        """Polls until ``host``+``path`` answers ``code`` (from a pod of ``svc``)."""
        last: Any = None
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                got, body, _ = self.request("GET", host, path)
                last = (got, body)
                if got == code and (svc is None or str(body.get("pod", "")).startswith(
                        svc + "-")):
                    return body
            except OSError as exc:
                last = exc
            time.sleep(0.1)
        raise AssertionError(f"{host}{path}: wanted {code} from {svc}, last {last}")

    def status_ips(self, name: str) -> list[str]:
        ing = json.loads(self.kubectl("get", "ingress", name, "-o", "json"))
        return [e.get("ip") for e in (ing.get("status") or {}).get("loadBalancer", {}).get(
            "ingress") or []]


@pytest.fixture(scope="module")
def icc(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Icc]:
    ns = unique("ingress-conformance")
    cluster.kubectl("create", "namespace", ns)
    crt, key = _self_signed("foo.bar.com")
    d = tmp_path_factory.mktemp("icc")
    (d / "tls.crt").write_bytes(crt)
    (d / "tls.key").write_bytes(key)
    address = str(ipaddress.ip_network(cluster.lb_pool).broadcast_address + 2)
    s = Icc(cluster, ns, address, d / "tls.crt")
    s.kubectl("create", "secret", "tls", "conformance-tls", f"--cert={d / 'tls.crt'}",
              f"--key={d / 'tls.key'}")
    for svc, replicas in SERVICES.items():
        s.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc},
                 "spec": {"selector": {"app": svc},
                          "ports": [{"name": "http", "port": 8080, "targetPort": 8080}]}})
        for i in range(replicas):
            s.apply({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": f"{svc}-{i}", "labels": {"app": svc}},
                     "spec": {"containers": [{
                         "name": "echo", "image": "python:3.11-slim",
                         "command": [sys.executable, "-c", ECHO],
                         "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {
                             "fieldPath": "metadata.name"}}}],
                         "readinessProbe": {"tcpSocket": {"port": 8080},
                                            "periodSeconds": 1}}]}})
    for obj in (PATH_RULES, HOST_RULES, INGRESS_CLASS):
        s.apply(obj)
    cluster.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod", "--all",
                    "--timeout=60s", timeout=70)
    s.served_by("foo.bar.com", "/", "foo-bar-com")
    try:
        yield s
    finally:
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def _curl_tls(s: Icc, host: str) -> tuple[int, dict[str, Any]]:
    r = subprocess.run(["curl", "-sS", "--max-time", "5", "--cacert", str(s.ca), "--resolve",
                        f"{host}:443:{s.address}", "-w", "\n%{http_code}", f"https://{host}/"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr  # the certificate verified for the host name
    body, _, code = r.stdout.rpartition("\n")
    return int(code), json.loads(body) if code == "200" else {}


# -- host_rules.feature


def test_host_rule_tls(icc: Icc) -> None:
    """[sig-network] Ingress Host rules: An Ingress with a host rule should send TLS traffic
    to the matching backend service (host foo.bar.com matches request foo.bar.com)"""
    assert icc.status_ips("host-rules") == [icc.address]
    end = time.monotonic() + 20
    while True:  # the certificate may land a moment after the plain-HTTP routes
        try:
            code, body = _curl_tls(icc, "foo.bar.com")
            break
        except AssertionError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)
    assert code == 200 and body["pod"].startswith("foo-bar-com-")
    assert body["host"] == "foo.bar.com"


def test_host_rule_http(icc: Icc) -> None:
    """[sig-network] Ingress Host rules: An Ingress with a host rule should send traffic to the
    matching backend service (host foo.bar.com matches request foo.bar.com)"""
    body = icc.served_by("foo.bar.com", "/", "foo-bar-com")
    assert body["host"] == "foo.bar.com"


def test_host_rule_no_match(icc: Icc) -> None:
    """[sig-network] Ingress Host rules: An Ingress with a host rule should not route traffic
    when hostname does not match (host foo.bar.com does not match request subdomain.bar.com)"""
    assert icc.request("GET", "subdomain.bar.com")[0] == 404


def test_wildcard_host_rule(icc: Icc) -> None:
    """[sig-network] Ingress Host rules: An Ingress with a wildcard host rule should send
    traffic to the matching backend service (Matches based on shared suffix)"""
    body = icc.served_by("bar.foo.com", "/", "wildcard-foo-com")
    assert body["host"] == "bar.foo.com"


def test_wildcard_not_two_labels(icc: Icc) -> None:
    """[sig-network] Ingress Host rules: An Ingress with a wildcard host rule should not route
    traffic matching on more than a single dns label (No match, wildcard only covers a single
    DNS label)"""
    icc.served_by("bar.foo.com", "/", "wildcard-foo-com")
    assert icc.request("GET", "baz.bar.foo.com")[0] == 404


def test_wildcard_not_no_label(icc: Icc) -> None:
    """[sig-network] Ingress Host rules: An Ingress with a wildcard host rule should not route
    traffic matching no dns label (No match, wildcard only covers a single DNS label)"""
    icc.served_by("bar.foo.com", "/", "wildcard-foo-com")
    assert icc.request("GET", "foo.com")[0] == 404


# -- ingress_class.feature


def test_invalid_ingress_class_gets_no_address(icc: Icc) -> None:
    """[sig-network] Ingress Ingress class: An Ingress with an invalid ingress class should not
    send traffic to the matching backend service"""
    icc.served_by("foo.bar.com", "/", "foo-bar-com")  # synced after it was created
    assert icc.status_ips("path-rules") == [icc.address]
    assert icc.status_ips("test-ingress-class") == []
    assert icc.request("GET", "ingress-class")[0] == 404


# -- path_rules.feature



def _path(icc: Icc, host: str, path: str, svc: str | None) -> None:
    icc.served_by("exact-path-rules", "/foo", "foo-exact")  # the Ingress is programmed
    if svc is None:
        assert icc.request("GET", host, path)[0] == 404
    else:
        body = icc.served_by(host, path, svc, timeout=2)
        assert body["path"] == path


def test_exact_matches(icc: Icc) -> None:
    """[sig-network] Ingress Path rules: An Ingress with exact path rules should send traffic
    to the matching backend service (exact /foo matches request /foo)"""
    _path(icc, "exact-path-rules", "/foo", "foo-exact")


def test_exact_not_trailing_slash(icc: Icc) -> None:
    """[sig-network] Ingress Path rules: An Ingress with exact path rules should not match
    requests with trailing slash (exact /foo does not match request /foo/)"""
    _path(icc, "exact-path-rules", "/foo/", None)


def test_exact_case_sensitive(icc: Icc) -> None:
    """[sig-network] Ingress Path rules: An Ingress with exact path rules should be case
    sensitive (exact /foo does not match request /FOO)"""
    _path(icc, "exact-path-rules", "/FOO", None)


def test_exact_not_other_label(icc: Icc) -> None:
    """[sig-network] Ingress Path rules: An Ingress with exact path rules should not match any
    other label (exact /foo does not match request /bar)"""
    _path(icc, "exact-path-rules", "/bar", None)


def test_prefix_matches(icc: Icc) -> None:
    """[sig-network] Ingress Path rules: An Ingress with prefix path rules should send traffic
    to the matching backend service (prefix /foo matches request /foo)"""
    _path(icc, "prefix-path-rules", "/foo", "foo-prefix")


def test_prefix_ignores_request_trailing_slash(icc: Icc) -> None:
    """[sig-network] Ingress Path rules: An Ingress with prefix path rules should ignore the
    request trailing slash and send traffic to the matching backend service (prefix /foo
    matches request /foo/)"""
    _path(icc, "prefix-path-rules", "/foo/", "foo-prefix")


def test_prefix_case_sensitive(icc: Icc) -> None:
    """[sig-network] Ingress Path rules: An Ingress with prefix path rules should be case
    sensitive (prefix /foo does not match request /FOO)"""
    _path(icc, "prefix-path-rules", "/FOO", None)


def test_prefix_longest_multiple_labels(icc: Icc) -> None:
    """[sig-network] Ingress Path rules: An Ingress with prefix path rules should match
    multiple labels, match the longest path, and send traffic to the matching backend service
    (prefix /aaa/bbb matches request /aaa/bbb)"""
    _path(icc, "prefix-path-rules", "/aaa/bbb", "aaa-slash-bbb-prefix")


def test_prefix_longest_and_subpaths(icc: Icc) -> None:
    """[sig-network] Ingress Path rules: An Ingress with prefix path rules should match
    multiple labels, match the longest path, and subpaths and send traffic to the matching
    backend service (prefix /aaa/bbb matches request /aaa/bbb/ccc)"""
    _path(icc, "prefix-path-rules", "/aaa/bbb/ccc", "aaa-slash-bbb-prefix")


def test_prefix_shorter(icc: Icc) -> None:
    """[sig-network] Ingress Path rules: An Ingress with prefix path rules should and send
    traffic to the matching backend service (prefix /aaa matches request /aaa/ccc)"""
    _path(icc, "prefix-path-rules", "/aaa/ccc", "aaa-prefix")


def test_prefix_element_wise(icc: Icc) -> None:
    """[sig-network] Ingress Path rules: An Ingress with prefix path rules should match each
    labels string prefix (prefix /aaa does not match request /aaaccc)"""
    _path(icc, "prefix-path-rules", "/aaaccc", None)


def test_mixed_exact_preferred(icc: Icc) -> None:
    """[sig-network] Ingress Path rules: An Ingress with mixed path rules should send traffic
    to the matching backend service where Exact is preferred (exact /foo matches request
    /foo)"""
    _path(icc, "mixed-path-rules", "/foo", "foo-exact")


def test_prefix_rule_trailing_slash_no_slash_request(icc: Icc) -> None:
    """[sig-network] Ingress Path rules: An Ingress with a trailing slashes in a prefix path
    rule should ignore the trailing slash and send traffic to the matching backend service
    (prefix /aaa/bbb/ matches request /aaa/bbb)"""
    _path(icc, "trailing-slash-path-rules", "/aaa/bbb", "aaa-slash-bbb-slash-prefix")


def test_prefix_rule_trailing_slash_slash_request(icc: Icc) -> None:
    """[sig-network] Ingress Path rules: An Ingress with a trailing slashes in a prefix path
    rule should ignore the trailing slash and send traffic to the matching backend service
    (prefix /aaa/bbb/ matches request /aaa/bbb/)"""
    _path(icc, "trailing-slash-path-rules", "/aaa/bbb/", "aaa-slash-bbb-slash-prefix")


def test_exact_rule_trailing_slash(icc: Icc) -> None:
    """[sig-network] Ingress Path rules: An Ingress with a trailing slashes in an exact path
    rule should not match requests without a trailing slash (exact /foo/ does not match
    request /foo)"""
    _path(icc, "trailing-slash-path-rules", "/foo", None)


# -- default_backend.feature and load_balancing.feature (last: a default backend serves
# every unmatched request of the cluster, so each test removes its Ingress again)


def _with_default_backend(icc: Icc, name: str) -> None:
    icc.apply(_ingress(name, {"defaultBackend": _backend("echo-service")}))
    end = time.monotonic() + 20
    while icc.status_ips(name) != [icc.address]:
        assert time.monotonic() < end, "no status.loadBalancer"
        time.sleep(0.1)
    icc.served_by("unmatched.example", "/", "echo-service")


def _without(icc: Icc, name: str) -> None:
    icc.kubectl("delete", "ingress", name)
    icc.served_by("unmatched.example", "/", None, code=404)


def test_default_backend_gets_every_request(icc: Icc) -> None:
    """[sig-network] Ingress Default backend: An Ingress with no rules should send all requests
    to the default backend"""
    _with_default_backend(icc, "default-backend")
    try:
        for method, host, path in (("GET", "my-host", ""), ("GET", "my-host", "sub-path"),
                                   ("POST", "some-host", ""), ("PUT", "", "resource"),
                                   ("DELETE", "some-host", "resource"),
                                   ("PATCH", "my-host", "resource")):
            code, body, r = icc.request(method, host, "/" + path)
            assert code == 200, (method, host, path, code)
            assert body["pod"].startswith("echo-service-")
            assert r.version == 11  # the response proto: HTTP/1.1
            for h in ("Content-Length", "Content-Type", "Date", "Server"):
                assert r.getheader(h), h
            assert (body["method"], body["path"], body["proto"]) == (
                method, "/" + path, "HTTP/1.1")
            headers = {k.lower(): v for k, v in body["headers"].items()}  # HAProxy lowercases
            assert headers["user-agent"] == "kubesvc-conformance/1.1"
    finally:
        _without(icc, "default-backend")


def test_load_balancing_over_ten_pods(icc: Icc) -> None:
    """[sig-network] Ingress Load Balancing: An Ingress with no rules should send all requests
    to the default backend and"""
    _with_default_backend(icc, "load-balancing")
    try:
        pods = set()
        for _ in range(100):
            code, body, _ = icc.request("GET", "load-balancing", "/")
            assert code == 200
            pods.add(body["pod"])
        assert len(pods) == 10, sorted(pods)
    finally:
        _without(icc, "load-balancing")
