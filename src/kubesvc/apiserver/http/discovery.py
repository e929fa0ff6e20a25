"""API discovery documents, all built from :mod:`kubesvc.api.resources`.

Legacy discovery (``/api``, ``/api/v1``, ``/apis``, ``/apis/{group}``,
``/apis/{group}/{version}``) and aggregated discovery (``apidiscovery.k8s.io/v2`` and
``v2beta1`` ``APIGroupDiscoveryList`` on ``/api`` and ``/apis``, which kubectl 1.32 asks for
first so that one request per root replaces one per group-version). Documents are pure
functions of the resource table; :mod:`.app` encodes them once at start-up.
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.resources import ResourceInfo, groups, served

AGGREGATED_MEDIA = "application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"

# Subresource -> (group, version, kind of the response; verbs). Kind "" = the parent kind.
_SUBRESOURCES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "status": ("", "", "", ("get", "patch", "update")),
    "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    "log": ("", "v1", "Pod", ("get",)),
    "binding": ("", "v1", "Binding", ("create",)),
    "eviction": ("policy", "v1", "Eviction", ("create",)),
    "finalize": ("", "", "", ("update",)),
    "ephemeralcontainers": ("", "", "", ("get", "patch", "update")),
    "token": ("authentication.k8s.io", "v1", "TokenRequest", ("create",)),
    # kind: <Parent>ProxyOptions (PodProxyOptions, ServiceProxyOptions)
    "proxy": ("", "v1", "ProxyOptions", ("create", "delete", "get", "patch", "update")),
    # the connect subresources of pods (served by the node agent, through the API server)
    "attach": ("", "v1", "PodAttachOptions", ("create", "get")),
    "exec": ("", "v1", "PodExecOptions", ("create", "get")),
    "portforward": ("", "v1", "PodPortForwardOptions", ("create", "get")),
}


def _sub_kind(r: ResourceInfo, sub: str) -> tuple[str, str, str, tuple[str, ...]]:
    group, version, kind, verbs = _SUBRESOURCES.get(sub, ("", "", "", ("get",)))
    if sub == "proxy":
        kind = r.kind + kind
    if not kind:
        group, version, kind = r.group, r.version, r.kind
    return group, version, kind, verbs


def api_versions(server_address: str) -> dict[str, Any]:
    """``/api``: the legacy APIVersions document."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_doc(name: str, versions: list[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def api_group_list() -> dict[str, Any]:
    """``/apis``: every named group."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_doc(g, vs) for g, vs in groups().items() if g],
    }


def api_group(group: str) -> dict[str, Any] | None:
    """``/apis/{group}``, or None for an unknown group."""
    vs = groups().get(group)
    if not group or not vs:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, vs)}


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """``/api/v1`` or ``/apis/{group}/{version}``, or None when not served."""
    found = [r for r in served() if r.group == group and r.version == version]
    if not found:
        return None
    resources: list[dict[str, Any]] = []
    for r in found:
        entry: dict[str, Any] = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        resources.append(entry)
        for sub in r.subresources:
            sg, sv, skind, verbs = _sub_kind(r, sub)
            sentry: dict[str, Any] = {
                "name": f"{r.plural}/{sub}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": skind,
                "verbs": list(verbs),
            }
            if (sg, sv) != (r.group, r.version):
                sentry["group"], sentry["version"] = sg, sv
            resources.append(sentry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def _aggregated_resource(r: ResourceInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    subs = []
    for sub in r.subresources:
        sg, sv, skind, verbs = _sub_kind(r, sub)
        subs.append({
            "subresource": sub,
            "responseKind": {"group": sg, "version": sv, "kind": skind},
            "verbs": list(verbs),
        })
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(*, core: bool, version: str = "v2") -> dict[str, Any]:
    """The APIGroupDiscoveryList for ``/api`` (``core=True``) or ``/apis``."""
    items: list[dict[str, Any]] = []
    for group, versions in groups().items():
        if bool(group) == core:
            continue
        gvs = []
        for v in versions:
            rs = [
                _aggregated_resource(r) for r in served() if r.group == group and r.version == v
            ]
            gvs.append({"version": v, "resources": rs, "freshness": "Current"})
        md: dict[str, Any] = {"creationTimestamp": None}
        if group:
            md["name"] = group
        items.append({"metadata": md, "versions": gvs})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }


def wants_aggregated(accept: str) -> str:
    """The aggregated discovery version ("v2"/"v2beta1") the Accept header asks for first,
    or "" for legacy discovery."""
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        params = dict(f.partition("=")[::2] for f in fields[1:])
        if fields[0] == "application/json" and params.get("as") == "APIGroupDiscoveryList":
            if params.get("g") == "apidiscovery.k8s.io" and params.get("v") in ("v2", "v2beta1"):
                return params["v"]
        elif fields[0] in ("application/json", "*/*", "application/*"):
            return ""
    return ""
