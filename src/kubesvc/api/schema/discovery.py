"""Structural schema of discovery.k8s.io/v1 EndpointSlice (v1.32).

Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import I32, B, C, D, M, S, arr, defn, ref, smap

defn(
    D + "EndpointSlice",
    {
        "addressType": S,
        "apiVersion": S,
        "endpoints": arr(ref(D + "Endpoint"), list_type="atomic"),
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "ports": arr(ref(D + "EndpointPort"), list_type="atomic"),
    },
    required=("addressType",),
)

defn(
    D + "Endpoint",
    {
        "addresses": arr(S, list_type="set"),
        "conditions": ref(D + "EndpointConditions"),
        "deprecatedTopology": smap,
        "hints": ref(D + "EndpointHints"),
        "hostname": S,
        "nodeName": S,
        "targetRef": ref(C + "ObjectReference"),
        "zone": S,
    },
    required=("addresses",),
)

defn(D + "EndpointConditions", {"ready": B, "serving": B, "terminating": B})

defn(D + "EndpointHints", {"forZones": arr(ref(D + "ForZone"), list_type="atomic")})

defn(D + "ForZone", {"name": S}, required=("name",))

defn(D + "EndpointPort", {"appProtocol": S, "name": S, "port": I32, "protocol": S})
