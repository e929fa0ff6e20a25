"""Structural schemas of networking.k8s.io/v1 (v1.32) Ingress and IngressClass.
Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import I32, C, M, S, arr, defn, ref

#: Upstream's definition-name prefix of the networking group.
NET = "io.k8s.api.networking.v1."

defn(
    NET + "Ingress",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(NET + "IngressSpec"),
        "status": ref(NET + "IngressStatus"),
    },
)
defn(
    NET + "IngressSpec",
    {
        "defaultBackend": ref(NET + "IngressBackend"),
        "ingressClassName": S,
        "rules": arr(ref(NET + "IngressRule"), list_type="atomic"),
        "tls": arr(ref(NET + "IngressTLS"), list_type="atomic"),
    },
)
defn(
    NET + "IngressBackend",
    {
        "resource": ref(C + "TypedLocalObjectReference"),
        "service": ref(NET + "IngressServiceBackend"),
    },
)
defn(
    NET + "IngressServiceBackend",
    {"name": S, "port": ref(NET + "ServiceBackendPort")},
    required=("name",),
)
defn(NET + "ServiceBackendPort", {"name": S, "number": I32})
defn(
    NET + "IngressRule",
    {"host": S, "http": ref(NET + "HTTPIngressRuleValue")},
)
defn(
    NET + "HTTPIngressRuleValue",
    {"paths": arr(ref(NET + "HTTPIngressPath"), list_type="atomic")},
    required=("paths",),
)
defn(
    NET + "HTTPIngressPath",
    {"backend": ref(NET + "IngressBackend"), "path": S, "pathType": S},
    required=("pathType", "backend"),
)
defn(
    NET + "IngressTLS",
    {"hosts": arr(S, list_type="atomic"), "secretName": S},
)
defn(
    NET + "IngressStatus",
    {"loadBalancer": ref(NET + "IngressLoadBalancerStatus")},
)
defn(
    NET + "IngressLoadBalancerStatus",
    {"ingress": arr(ref(NET + "IngressLoadBalancerIngress"), list_type="atomic")},
)
defn(
    NET + "IngressLoadBalancerIngress",
    {"hostname": S, "ip": S, "ports": arr(ref(NET + "IngressPortStatus"), list_type="atomic")},
)
defn(
    NET + "IngressPortStatus",
    {"error": S, "port": I32, "protocol": S},
    required=("port", "protocol"),
)

defn(
    NET + "IngressClass",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(NET + "IngressClassSpec"),
    },
)
defn(
    NET + "IngressClassSpec",
    {"controller": S, "parameters": ref(NET + "IngressClassParametersReference")},
)
defn(
    NET + "IngressClassParametersReference",
    {"apiGroup": S, "kind": S, "name": S, "namespace": S, "scope": S},
    required=("kind", "name"),
)
