"""Structural schemas of networking.k8s.io/v1 Ingress (upstream k8s.io/api/networking/v1
types.go, v1.32). Served so that ``kubectl apply --prune``'s default allowlist resolves and
Ingress objects can be stored and listed; no controller acts on them (no ingress
controller is part of kubesvc).

Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import I32, C, M, S, arr, defn, ref

N = "io.k8s.api.networking.v1."

defn(
    N + "Ingress",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(N + "IngressSpec"),
        "status": ref(N + "IngressStatus"),
    },
)

defn(
    N + "IngressSpec",
    {
        "defaultBackend": ref(N + "IngressBackend"),
        "ingressClassName": S,
        "rules": arr(ref(N + "IngressRule"), list_type="atomic"),
        "tls": arr(ref(N + "IngressTLS"), list_type="atomic"),
    },
)

defn(
    N + "IngressBackend",
    {
        "resource": ref(C + "TypedLocalObjectReference"),
        "service": ref(N + "IngressServiceBackend"),
    },
)

defn(N + "IngressServiceBackend", {"name": S, "port": ref(N + "ServiceBackendPort")},
     required=("name",))

defn(N + "ServiceBackendPort", {"name": S, "number": I32})

defn(N + "IngressRule", {"host": S, "http": ref(N + "HTTPIngressRuleValue")})

defn(N + "HTTPIngressRuleValue", {"paths": arr(ref(N + "HTTPIngressPath"), list_type="atomic")},
     required=("paths",))

defn(
    N + "HTTPIngressPath",
    {"backend": ref(N + "IngressBackend"), "path": S, "pathType": S},
    required=("pathType", "backend"),
)

defn(N + "IngressTLS", {"hosts": arr(S, list_type="atomic"), "secretName": S})

defn(N + "IngressStatus", {"loadBalancer": ref(N + "IngressLoadBalancerStatus")})

defn(
    N + "IngressLoadBalancerStatus",
    {"ingress": arr(ref(N + "IngressLoadBalancerIngress"), list_type="atomic")},
)

defn(
    N + "IngressLoadBalancerIngress",
    {"hostname": S, "ip": S, "ports": arr(ref(N + "IngressPortStatus"), list_type="atomic")},
)

defn(N + "IngressPortStatus", {"error": S, "port": I32, "protocol": S},
     required=("port", "protocol"))
