"""networking.k8s.io/v1 Ingress and IngressClass through the real kubectl: create (and
``kubectl create ingress``), tables, the default-class admission, validation messages as
upstream's, describe, and the status subresource."""

from __future__ import annotations

import json

import pytest

from tests.integration.apiserver.harness import Kubectl

CLASS = """\
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: {name}
  annotations: {{ingressclass.kubernetes.io/is-default-class: "{default}"}}
spec:
  controller: kubesvc.io/ingress-haproxy
"""

INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
spec:
  rules:
  - host: {host}
    http:
      paths:
      - path: {path}
        pathType: {path_type}
        backend:
          service:
            name: web
            port: {{number: 80}}
"""


def _apply(kubectl: Kubectl, text: str, check: bool = True) -> str:
    r = kubectl("apply", "-f", "-", input=text, check=check)
    return r.stdout + r.stderr


def test_default_class_table_and_create_ingress(kubectl: Kubectl) -> None:
    _apply(kubectl, CLASS.format(name="ic-a", default="true"))
    out = kubectl("get", "ingressclass", "ic-a").stdout
    assert out.split("\n")[0].split() == ["NAME", "CONTROLLER", "PARAMETERS", "AGE"]
    assert "kubesvc.io/ingress-haproxy" in out and "<none>" in out
    _apply(kubectl, INGRESS.format(name="ing-a", host="foo.example.com", path="/app",
                                   path_type="Prefix"))
    got = json.loads(kubectl("get", "ingress", "ing-a", "-o", "json").stdout)
    assert got["spec"]["ingressClassName"] == "ic-a"  # DefaultIngressClass admission
    assert got["metadata"]["generation"] == 1
    table = kubectl("get", "ing", "ing-a").stdout.split("\n")
    assert table[0].split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert table[1].split()[:4] == ["ing-a", "ic-a", "foo.example.com", "80"]
    # kubectl create ingress builds the object client side
    kubectl("create", "ingress", "ing-b", "--class=ic-a",
            "--rule=bar.example.com/api*=web:8080", "--rule=secure.example.com/=web:443,tls=sec")
    b = json.loads(kubectl("get", "ingress", "ing-b", "-o", "json").stdout)
    paths = b["spec"]["rules"][0]["http"]["paths"]
    assert paths[0]["pathType"] == "Prefix" and paths[0]["path"] == "/api"
    assert b["spec"]["tls"][0]["secretName"] == "sec"
    assert "80, 443" in kubectl("get", "ingress", "ing-b").stdout
    desc = kubectl("describe", "ingress", "ing-b").stdout
    assert "bar.example.com" in desc and "/api" in desc and "web:8080" in desc
    # an explicit empty class is left alone
    kubectl("delete", "ingress", "ing-a", "ing-b")


def test_status_subresource_and_address_column(kubectl: Kubectl) -> None:
    _apply(kubectl, INGRESS.format(name="ing-s", host="s.example.com", path="/",
                                   path_type="Exact"))
    kubectl("patch", "ingress", "ing-s", "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": "127.100.0.7"}]}}}))
    assert "127.100.0.7" in kubectl("get", "ingress", "ing-s").stdout
    # a main-resource update does not change the status
    kubectl("label", "ingress", "ing-s", "x=y")
    assert "127.100.0.7" in kubectl("get", "ingress", "ing-s").stdout
    kubectl("delete", "ingress", "ing-s")


@pytest.mark.parametrize(("host", "path", "path_type", "message"), [
    ("foo.example.com", "app", "Prefix",
     'spec.rules[0].http.paths[0].path: Invalid value: "app": must be an absolute path'),
    ("foo.example.com", "/a//b", "Exact",
     "spec.rules[0].http.paths[0].path: Invalid value: \"/a//b\": must not contain '//'"),
    ("foo.example.com", "/", "Fuzzy",
     'spec.rules[0].http.paths[0].pathType: Unsupported value: "Fuzzy": supported values: '
     '"Exact", "ImplementationSpecific", "Prefix"'),
    ("10.0.0.1", "/", "Prefix",
     'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address'),
    ("foo.*.com", "/", "Prefix",
     "spec.rules[0].host: Invalid value: \"foo.*.com\": a wildcard DNS-1123 subdomain must "
     "start with '*.'"),
])
def test_validation_messages(kubectl: Kubectl, host: str, path: str, path_type: str,
                             message: str) -> None:
    out = _apply(kubectl, INGRESS.format(name="bad", host=host, path=path,
                                         path_type=path_type), check=False)
    assert 'The Ingress "bad" is invalid' in out
    assert message in out


def test_backend_and_class_rules(kubectl: Kubectl) -> None:
    body = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "nob"}, "spec": {}}
    out = _apply(kubectl, json.dumps(body), check=False)
    assert "spec: Invalid value" in out and "either `defaultBackend` or `rules` must be " \
        "specified" in out
    body["spec"] = {"defaultBackend": {"service": {"name": "web",
                                                   "port": {"name": "http", "number": 80}}}}
    out = _apply(kubectl, json.dumps(body), check=False)
    assert "spec.defaultBackend.service.port: Invalid value" in out
    assert "cannot set both port name & port number" in out
    _apply(kubectl, CLASS.format(name="ic-imm", default="false"))
    out = kubectl("patch", "ingressclass", "ic-imm", "--type=merge", "-p",
                  '{"spec":{"controller":"other.io/x"}}', check=False).stderr
    assert "spec.controller: Invalid value" in out and "field is immutable" in out
