"""Parse a REST path into the resource, namespace, name and subresource it addresses.

``/api/v1/namespaces/{ns}/{plural}/{name}/{sub}``, ``/apis/{g}/{v}/...``, cluster-scoped
and all-namespaces forms, the legacy ``/api/v1/watch/...`` prefix, and
``.../{name}/proxy/{path}`` (the path to proxy kept as sent). Called by
:mod:`.app` for every resource request; reads :mod:`kubesvc.api.resources` only.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubesvc.api.resources import ResourceInfo, by_gvr

_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True, slots=True)
class Target:
    info: ResourceInfo
    namespace: str | None  # None: cluster-scoped resource, or a list across all namespaces
    name: str
    subresource: str
    legacy_watch: bool
    # ``.../{name}/proxy<rest>``: the path to pass on, as sent ("" when nothing follows
    # ``proxy``, "/" for ``proxy/``).
    proxy_path: str = ""


def parse(path: str) -> Target | None:
    """The target of a resource path, or None when the path names no served resource
    (the caller answers 404)."""
    parts = path.strip("/").split("/")
    if len(parts) < 3:
        return None
    if parts[0] == "api":
        if parts[1] != "v1":
            return None
        group, version, rest = "", "v1", parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    legacy_watch = False
    if rest[0] == "watch":
        legacy_watch, rest = True, rest[1:]
        if not rest:
            return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        # /api/v1/namespaces/{name}/status is the Namespace's own subresource.
        if not (group == "" and len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES):
            namespace, rest = rest[1], rest[2:]
    proxy_path = ""
    if len(rest) >= 3 and rest[2] == "proxy" and rest[1]:
        marker = f"/{rest[0]}/{rest[1]}/proxy"
        proxy_path = path[path.index(marker) + len(marker):]
        rest = rest[:3]
    if not rest or len(rest) > 3 or not all(rest):
        return None
    info = by_gvr(group, version, rest[0])  # built-in or served by a CRD
    if info is None:
        return None
    if namespace is not None and not info.namespaced:
        return None
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if sub and sub not in info.subresources:
        return None
    if name and info.namespaced and namespace is None:
        return None
    if legacy_watch and sub:
        return None
    return Target(info, namespace, name, sub, legacy_watch, proxy_path)
