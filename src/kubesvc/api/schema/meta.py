"""Structural schemas of the meta/v1 types every kind shares (ObjectMeta, ListMeta,
OwnerReference, ManagedFieldsEntry, LabelSelector, Condition), the scalar types (Time,
MicroTime, Quantity, IntOrString), and the request/response types the OpenAPI paths name
(Status, DeleteOptions, WatchEvent, Patch).

Patch tags as upstream's apimachinery meta/v1 types.go: ``finalizers`` is a set merged
as a set (patchStrategy=merge), ``ownerReferences`` merges by ``uid``.
Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import (
    I32,
    I64,
    INT_OR_STRING,
    MICRO_TIME,
    OPEN,
    QUANTITY,
    TIME,
    B,
    M,
    S,
    T,
    arr,
    defn,
    ref,
    scalar,
    smap,
)

scalar(TIME, {"type": "string", "format": "date-time"})
scalar(MICRO_TIME, {"type": "string", "format": "date-time"})
scalar(QUANTITY, {"type": "string"})
# v3 as kube-openapi writes it (IntOrString's OpenAPIV3OneOfTypes): no ``type`` of its own,
# so ``kubectl explain`` names the field ``<IntOrString>`` as upstream.
scalar(
    INT_OR_STRING,
    {
        "description": "IntOrString holds either an int32 or a string; it reads and writes as "
        "the inner value (a port number or a port name, a count or a percentage).",
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    },
)
scalar(M + "FieldsV1", {"type": "object"})

defn(
    M + "ObjectMeta",
    {
        "annotations": smap,
        "creationTimestamp": T,
        "deletionGracePeriodSeconds": I64,
        "deletionTimestamp": T,
        "finalizers": arr(S, strategy="merge", list_type="set"),
        "generateName": S,
        "generation": I64,
        "labels": smap,
        "managedFields": arr(ref(M + "ManagedFieldsEntry")),
        "name": S,
        "namespace": S,
        "ownerReferences": arr(
            ref(M + "OwnerReference"),
            key="uid",
            strategy="merge",
            list_type="map",
            map_keys=("uid",),
        ),
        "resourceVersion": S,
        "selfLink": S,
        "uid": S,
    },
)

defn(
    M + "ManagedFieldsEntry",
    {
        "apiVersion": S,
        "fieldsType": S,
        "fieldsV1": ref(M + "FieldsV1"),
        "manager": S,
        "operation": S,
        "subresource": S,
        "time": T,
    },
)

defn(
    M + "OwnerReference",
    {
        "apiVersion": S,
        "blockOwnerDeletion": B,
        "controller": B,
        "kind": S,
        "name": S,
        "uid": S,
    },
    required=("apiVersion", "kind", "name", "uid"),
)

defn(
    M + "LabelSelector",
    {
        "matchExpressions": arr(ref(M + "LabelSelectorRequirement"), list_type="atomic"),
        "matchLabels": smap,
    },
)

defn(
    M + "LabelSelectorRequirement",
    {
        "key": S,
        "operator": S,
        "values": arr(S, list_type="atomic"),
    },
    required=("key", "operator"),
)

defn(
    M + "Condition",
    {
        "lastTransitionTime": T,
        "message": S,
        "observedGeneration": I64,
        "reason": S,
        "status": S,
        "type": S,
    },
    required=("lastTransitionTime", "message", "reason", "status", "type"),
)

defn(
    M + "ListMeta",
    {
        "continue": S,
        "remainingItemCount": I64,
        "resourceVersion": S,
        "selfLink": S,
    },
)

defn(M + "StatusCause", {"field": S, "message": S, "reason": S})

defn(
    M + "StatusDetails",
    {
        "causes": arr(ref(M + "StatusCause"), list_type="atomic"),
        "group": S,
        "kind": S,
        "name": S,
        "retryAfterSeconds": I32,
        "uid": S,
    },
)

defn(
    M + "Status",
    {
        "apiVersion": S,
        "code": I32,
        "details": ref(M + "StatusDetails"),
        "kind": S,
        "message": S,
        "metadata": ref(M + "ListMeta"),
        "reason": S,
        "status": S,
    },
)

defn(M + "Preconditions", {"resourceVersion": S, "uid": S})

defn(
    M + "DeleteOptions",
    {
        "apiVersion": S,
        "dryRun": arr(S, list_type="atomic"),
        "gracePeriodSeconds": I64,
        "ignoreStoreReadErrorWithClusterBreakingPotential": B,
        "kind": S,
        "orphanDependents": B,
        "preconditions": ref(M + "Preconditions"),
        "propagationPolicy": S,
    },
)

defn(M + "WatchEvent", {"object": OPEN, "type": S}, required=("type", "object"))

# The body of a PATCH request: its shape depends on the Content-Type.
scalar(
    M + "Patch",
    {
        "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH"
        " request body.",
        "type": "object",
    },
)
