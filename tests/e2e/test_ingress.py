"""Issue 22 against a real ``kubesvc up`` (host mode, HAProxy bound on the address just past
the LB pool): the ingress-controller-conformance scenarios by curl — default backend (404,
then spec.defaultBackend), host rules (exact and wildcard), path rules (Exact, Prefix with
/foo vs /foobar), two Ingresses sharing a host, load balancing over 2 replicas, TLS by SNI
with ``--resolve`` and the CA, a bad Secret giving an Event without harming other hosts,
status.loadBalancer, and zero failed requests while endpoints scale."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubesvc.ingress.haproxy import find_haproxy
from tests.e2e.conftest import Cluster

if find_haproxy() is None:
    pytest.skip("needs haproxy (scripts/system-deps.sh installs it)", allow_module_level=True)
if os.geteuid() != 0:
    pytest.skip("HAProxy binds ports 80 and 443: needs root", allow_module_level=True)


def app(name: str, replicas: int) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: ["serve-hostname", "--port=9376"]
        readinessProbe:
          httpGet: {{path: /, port: 9376}}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{name: http, port: 80, targetPort: 9376}}]
"""


def rule(host: str | None, *paths: tuple[str, str, str]) -> dict[str, object]:
    r: dict[str, object] = {"http": {"paths": [
        {"path": p, "pathType": t, "backend": {"service": {"name": s, "port": {"name": "http"}}}}
        for p, t, s in paths]}}
    if host:
        r["host"] = host
    return r


def ingress(name: str, *rules: dict[str, object], **spec: object) -> str:
    return json.dumps({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                       "metadata": {"name": name}, "spec": {"rules": list(rules), **spec}})


class Ing:
    def __init__(self, c: Cluster, address: str) -> None:
        self.c = c
        self.address = address

    def curl(self, host: str, path: str = "/", *, https: bool = False,
             cacert: Path | None = None, host_header: str = "") -> tuple[int, str]:
        scheme, port = ("https", 443) if https else ("http", 80)
        args = ["curl", "-sS", "--max-time", "5", "-o", "-", "-w", "\n%{http_code}",
                "--resolve", f"{host}:{port}:{self.address}", f"{scheme}://{host}{path}"]
        if cacert:
            args[1:1] = ["--cacert", str(cacert)]
        if host_header:
            args[1:1] = ["-H", f"Host: {host_header}"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            return -r.returncode, r.stderr
        body, _, code = r.stdout.rpartition("\n")
        return int(code), body

    def routes_to(self, host: str, path: str, app_name: str | None, *,
                  code: int = 200) -> None:
        def ok() -> bool:
            got, body = self.curl(host, path)
            return got == code and (app_name is None or body.startswith(app_name + "-"))

        self.c.wait_for(ok, timeout=20, what=f"{host}{path} -> {app_name or code}")

    def apply(self, text: str) -> None:
        self.c.kubectl("apply", "-f", "-", input=text)


@pytest.fixture(scope="module")
def ing(cluster: Cluster) -> Ing:
    for name, n in (("app-a", 2), ("app-b", 1), ("app-def", 1)):
        cluster.kubectl("apply", "-f", "-", input=app(name, n))
    for name in ("app-a", "app-b", "app-def"):
        cluster.kubectl("rollout", "status", f"deployment/{name}", "--timeout=60s")
    net = ipaddress.ip_network(cluster.lb_pool)
    return Ing(cluster, str(net.broadcast_address + 2))


def test_class_exists_and_404_default(ing: Ing) -> None:
    cls = ing.c.kubectl_json("get", "ingressclass", "kubesvc")
    assert cls["spec"]["controller"] == "kubesvc.io/ingress-haproxy"
    ing.routes_to("nothing.example", "/", None, code=404)


def test_host_rules_exact_and_wildcard_and_status(ing: Ing) -> None:
    ing.apply(ingress("hosts", rule("foo.example", ("/", "Prefix", "app-a")),
                      rule("*.wild.example", ("/", "Prefix", "app-b"))))
    ing.routes_to("foo.example", "/", "app-a")
    ing.routes_to("x.wild.example", "/", "app-b")
    assert ing.curl("a.b.wild.example")[0] == 404  # a wildcard matches one label
    assert ing.curl("wild.example")[0] == 404
    # the case and the port of Host are ignored
    assert ing.curl("foo.example", host_header="FOO.example:80")[0] == 200

    def status() -> object:
        obj = ing.c.kubectl_json("get", "ingress", "hosts")
        return obj.get("status", {}).get("loadBalancer", {}).get("ingress")

    assert ing.c.wait_for(status, what="status") == [{"ip": ing.address}]
    assert ing.address in ing.c.kubectl("get", "ingress", "hosts").stdout  # ADDRESS column


def test_path_rules_exact_prefix_element_wise(ing: Ing) -> None:
    ing.apply(ingress("paths", rule("paths.example", ("/exact", "Exact", "app-b"),
                                    ("/foo", "Prefix", "app-a"),
                                    ("/impl", "ImplementationSpecific", "app-b"))))
    ing.routes_to("paths.example", "/foo", "app-a")
    ing.routes_to("paths.example", "/foo/", "app-a")
    ing.routes_to("paths.example", "/foo/bar", "app-a")
    assert ing.curl("paths.example", "/foobar")[0] == 404
    ing.routes_to("paths.example", "/exact", "app-b")
    assert ing.curl("paths.example", "/exact/")[0] == 404
    assert ing.curl("paths.example", "/Exact")[0] == 404  # case-sensitive
    ing.routes_to("paths.example", "/impl/x", "app-b")


def test_two_ingresses_share_a_host_longest_prefix_wins(ing: Ing) -> None:
    ing.apply(ingress("share-1", rule("shared.example", ("/", "Prefix", "app-a"))))
    ing.apply(ingress("share-2", rule("shared.example", ("/b", "Prefix", "app-b"),
                                      ("/", "Exact", "app-b"))))
    ing.routes_to("shared.example", "/b/c", "app-b")
    ing.routes_to("shared.example", "/", "app-b")  # Exact beats Prefix on the same path
    ing.routes_to("shared.example", "/a", "app-a")
    ing.routes_to("shared.example", "/bb", "app-a")


def test_load_balancing_over_two_replicas(ing: Ing) -> None:
    ing.routes_to("foo.example", "/", "app-a")
    seen = Counter(ing.curl("foo.example", "/")[1] for _ in range(20))
    assert len(seen) == 2 and all(v >= 5 for v in seen.values()), seen


def self_signed(host: str) -> tuple[bytes, bytes]:
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


def test_tls_by_sni_and_a_bad_secret_is_an_event(ing: Ing, tmp_path: Path) -> None:
    crt, key = self_signed("secure.example")
    ca = tmp_path / "ca.pem"
    ca.write_bytes(crt)
    ing.apply(json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls-ok"},
                          "type": "kubernetes.io/tls",
                          "data": {"tls.crt": base64.b64encode(crt).decode(),
                                   "tls.key": base64.b64encode(key).decode()}}))
    ing.apply(ingress("tls", rule("secure.example", ("/", "Prefix", "app-a")),
                      tls=[{"hosts": ["secure.example"], "secretName": "tls-ok"}]))

    def https_ok() -> bool:
        code, body = ing.curl("secure.example", "/", https=True, cacert=ca)
        return code == 200 and body.startswith("app-a-")

    ing.c.wait_for(https_ok, timeout=20, what="https://secure.example with the CA")
    ing.apply(ingress("tls-bad", rule("broken.example", ("/", "Prefix", "app-b")),
                      tls=[{"hosts": ["broken.example"], "secretName": "missing"}]))
    ing.routes_to("broken.example", "/", "app-b")  # served, over plain HTTP

    def event() -> bool:
        evs = ing.c.kubectl_json("get", "events", "--field-selector",
                                 "involvedObject.name=tls-bad")["items"]
        return any(e["reason"] == "InvalidTLSSecret" and "default/missing: not found"
                   in e["message"] for e in evs)

    ing.c.wait_for(event, what="InvalidTLSSecret event")
    assert https_ok()  # the other host keeps its TLS

    # a renewed certificate in the Secret is served after the change
    crt2, key2 = self_signed("secure.example")
    ing.apply(json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls-ok"},
                          "type": "kubernetes.io/tls",
                          "data": {"tls.crt": base64.b64encode(crt2).decode(),
                                   "tls.key": base64.b64encode(key2).decode()}}))
    ca.write_bytes(crt2)
    ing.c.wait_for(https_ok, timeout=20, what="https://secure.example with the new CA")


def test_default_backend(ing: Ing) -> None:
    ing.apply(json.dumps({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                          "metadata": {"name": "default-be"}, "spec": {"defaultBackend": {
                              "service": {"name": "app-def", "port": {"number": 80}}}}}))
    ing.routes_to("unknown.example", "/anything", "app-def")
    ing.routes_to("paths.example", "/foobar", "app-def")  # a known host, no path matched


def test_scaling_and_ingress_churn_under_load_fail_nothing(ing: Ing) -> None:
    ing.routes_to("foo.example", "/", "app-a")
    failures: list[str] = []
    done = threading.Event()
    count = 0

    def load() -> None:
        nonlocal count
        while not done.is_set():
            code, body = ing.curl("foo.example", "/")
            if code != 200:
                failures.append(f"{code} {body}")
            count += 1

    t = threading.Thread(target=load)
    t.start()
    try:
        for i, n in enumerate((4, 1, 2)):
            ing.c.kubectl("scale", "deployment/app-a", f"--replicas={n}")
            # Ingresses churn too: each is a structural change, so a reload
            ing.apply(ingress(f"churn-{i}", rule(f"churn{i}.example",
                                                 ("/", "Prefix", "app-b"))))
            ing.c.kubectl("rollout", "status", "deployment/app-a", "--timeout=60s")
            ing.routes_to(f"churn{i}.example", "/", "app-b")
            if i:
                ing.c.kubectl("delete", "ingress", f"churn-{i - 1}")
            time.sleep(1)
    finally:
        done.set()
        t.join()
    assert count > 10 and failures == [], failures[:5]
