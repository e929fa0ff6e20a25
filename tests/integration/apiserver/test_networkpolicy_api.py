"""networking.k8s.io/v1 NetworkPolicy through the real kubectl: create/get (the ``netpol``
short name and the NAME/POD-SELECTOR/AGE table), upstream's defaults (policyTypes,
protocol TCP, podSelector {}), describe, validation errors with their field paths, the
host-mode create warning (``Warning: 299``, which kubectl prints), update and delete."""

from __future__ import annotations

import json

from tests.integration.apiserver.harness import Kubectl, ServerThread

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
spec:
  podSelector: {{matchLabels: {{app: web}}}}
  ingress:
  - from:
    - namespaceSelector: {{matchLabels: {{team: a}}}}
      podSelector: {{matchLabels: {{role: client}}}}
    - ipBlock: {{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}
    ports:
    - port: 80
      endPort: 90
    - port: http
      protocol: UDP
  egress:
  - to:
    - podSelector: {{}}
"""


def _apply(kubectl: Kubectl, text: str, check: bool = True) -> str:
    r = kubectl("apply", "-f", "-", input=text, check=check)
    return r.stdout + r.stderr


def test_create_get_describe_delete(kubectl: Kubectl) -> None:
    _apply(kubectl, POLICY.format(name="np-a"))
    got = json.loads(kubectl("get", "networkpolicy", "np-a", "-o", "json").stdout)
    spec = got["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]  # egress rules present
    assert [p["protocol"] for p in spec["ingress"][0]["ports"]] == ["TCP", "UDP"]
    assert got["metadata"]["generation"] == 1
    table = kubectl("get", "netpol").stdout.split("\n")
    assert table[0].split() == ["NAME", "POD-SELECTOR", "AGE"]
    assert table[1].split()[:2] == ["np-a", "app=web"]
    desc = kubectl("describe", "networkpolicy", "np-a").stdout
    assert "PodSelector:     app=web" in desc
    assert "NamespaceSelector: team=a" in desc and "PodSelector: role=client" in desc
    assert "IPBlock:" in desc and "CIDR: 10.0.0.0/8" in desc and "Except: 10.1.0.0/16" in desc
    assert "Policy Types: Ingress, Egress" in desc
    # an ingress-only policy with no rules: default deny, policyTypes [Ingress], empty
    # podSelector kept (upstream's field has no omitempty) and shown as <none>
    _apply(kubectl, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
           "metadata: {name: deny}\nspec: {}\n")
    deny = json.loads(kubectl("get", "netpol", "deny", "-o", "json").stdout)
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert "deny   <none>" in kubectl("get", "netpol", "deny").stdout
    # a spec change bumps the generation
    kubectl("patch", "netpol", "deny", "--type=merge", "-p",
            json.dumps({"spec": {"policyTypes": ["Ingress", "Egress"]}}))
    again = json.loads(kubectl("get", "netpol", "deny", "-o", "json").stdout)
    assert again["metadata"]["generation"] == 2
    kubectl("delete", "netpol", "np-a", "deny")
    assert "No resources found" in (kubectl("get", "netpol").stdout
                                    + kubectl("get", "netpol").stderr)


BAD = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: bad
spec:
  podSelector: {}
  policyTypes: [Ingress, Sideways]
  ingress:
  - ports:
    - {port: 90, endPort: 80}
    - {port: http, endPort: 81}
    - {endPort: 81}
    - {protocol: ICMP}
    - {port: 70000}
    from:
    - ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}
    - ipBlock: {cidr: nonsense}
    - ipBlock: {cidr: 10.0.0.0/8}
      podSelector: {}
    - {}
"""


def test_validation_errors_with_field_paths(kubectl: Kubectl) -> None:
    out = _apply(kubectl, BAD, check=False)
    assert 'The NetworkPolicy "bad" is invalid' in out
    for want in (
        "spec.ingress[0].ports[0].endPort: Invalid value: 80: must be greater than or equal "
        "to `port`",
        "spec.ingress[0].ports[1].endPort: Invalid value: 81: may not be specified when "
        "`port` is non-numeric",
        "spec.ingress[0].ports[2].endPort: Invalid value: 81: may not be specified when "
        "`port` is not specified",
        'spec.ingress[0].ports[3].protocol: Unsupported value: "ICMP": supported values: '
        '"TCP", "UDP", "SCTP"',
        "spec.ingress[0].ports[4].port: Invalid value: 70000: must be between 1 and 65535, "
        "inclusive",
        'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "11.0.0.0/16": must be a '
        "strict subset of `cidr`",
        'spec.ingress[0].from[1].ipBlock.cidr: Invalid value: "nonsense": not a valid CIDR',
        "spec.ingress[0].from[2]: Forbidden: may not specify both ipBlock and another peer",
        "spec.ingress[0].from[3]: Required value: must specify a peer",
        'spec.policyTypes[1]: Unsupported value: "Sideways": supported values: "Ingress", '
        '"Egress"',
    ):
        assert want in out, (want, out)
    assert "NotFound" in kubectl("get", "netpol", "bad", check=False).stderr


def test_create_warning_where_not_enforced(server: ServerThread, kubectl: Kubectl) -> None:
    server.registry.network_policy_warning = "NetworkPolicy is not enforced: host mode"
    try:
        out = _apply(kubectl, POLICY.format(name="np-w"))
    finally:
        server.registry.network_policy_warning = ""
    assert "Warning: NetworkPolicy is not enforced: host mode" in out
    assert "Warning:" not in _apply(kubectl, POLICY.format(name="np-w2"))
    kubectl("delete", "netpol", "np-w", "np-w2")
