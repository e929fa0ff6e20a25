"""Request attributes for authorization, derived from a request as upstream's
``RequestInfoFactory`` (staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go)
derives them, and the API server's ``Forbidden`` message (``forbiddenMessage`` in
responsewriters/errors.go). Pure code; used by :mod:`.authorizer` and the API server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from kubesvc.api.fieldselectors import parse_field_selector
from kubesvc.api.validation.field import go_quote as _q

_SPECIAL_VERBS = frozenset({"proxy", "watch"})
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update",
                 "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True, slots=True)
class Attributes:
    """What one request asks (upstream's ``authorizer.AttributesRecord``)."""

    user: str
    groups: tuple[str, ...]
    verb: str
    resource_request: bool = True
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
    uid: str = ""

    def with_verb(self, verb: str) -> Attributes:
        return replace(self, verb=verb)


def _truthy(v: str | None) -> bool:
    return (v or "").lower() in ("true", "1")


def request_attributes(
    method: str, path: str, query: Mapping[str, str], *, user: str, groups: tuple[str, ...],
    uid: str = "",
) -> Attributes:
    """The attributes of ``method path?query`` for ``user``/``groups``."""
    parts = [p for p in path.strip("/").split("/") if p] if path.strip("/") else []
    non_resource = Attributes(user, groups, method.lower(), resource_request=False,
                              path=path, uid=uid)
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return non_resource
    prefix, rest = parts[0], parts[1:]
    group = ""
    if prefix == "apis":
        if len(rest) < 3:
            return non_resource
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    by_method = False
    if rest[0] in _SPECIAL_VERBS:
        if len(rest) < 2:
            return non_resource
        verb, rest = rest[0], rest[1:]
    else:
        by_method = True
        verb = _METHOD_VERBS.get(method.upper(), "")
    namespace = ""
    if rest[0] == "namespaces":
        if len(rest) > 1:
            namespace = rest[1]
            if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
                rest = rest[2:]
    resource = name = subresource = ""
    if len(rest) >= 3 and verb != "proxy":
        subresource = rest[2]
    if len(rest) >= 2:
        name = rest[1]
    if rest:
        resource = rest[0]
    if by_method and not name and verb == "get":
        verb = "watch" if _truthy(query.get("watch")) else "list"
        exact = _exact_name(query.get("fieldSelector", ""))
        if exact and "/" not in exact and "%" not in exact and exact not in (".", ".."):
            name = exact
    if by_method and not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(user, groups, verb, api_group=group, api_version=version,
                      resource=resource, subresource=subresource, namespace=namespace,
                      name=name, path=path, uid=uid)


def _exact_name(selector: str) -> str:
    if not selector:
        return ""
    try:
        sel = parse_field_selector(selector)
    except Exception:  # an invalid selector is refused later, by the handler
        return ""
    return sel.requires_exact_match("metadata.name") or ""


def forbidden_message(attrs: Attributes) -> str:
    """``User "x" cannot <verb> ...`` (upstream's forbiddenMessage)."""
    if not attrs.resource_request:
        return f"User {_q(attrs.user)} cannot {attrs.verb} path {_q(attrs.path)}"
    resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    base = (f"User {_q(attrs.user)} cannot {attrs.verb} resource {_q(resource)} in API group "
            f"{_q(attrs.api_group)}")
    if attrs.namespace:
        return f"{base} in the namespace {_q(attrs.namespace)}"
    return f"{base} at the cluster scope"


def forbidden_status_message(attrs: Attributes, reason: str = "") -> str:
    """The whole Status message: ``<resource>[.group] ["name" ]is forbidden: <message>``
    (``apierrors.NewForbidden`` over the message and the authorizer's reason)."""
    msg = forbidden_message(attrs) + (f": {reason}" if reason else "")
    if not attrs.resource_request or not attrs.resource:
        return f"forbidden: {msg}"
    qualified = attrs.resource + (f".{attrs.api_group}" if attrs.api_group else "")
    if attrs.name:
        return f"{qualified} {_q(attrs.name)} is forbidden: {msg}"
    return f"{qualified} is forbidden: {msg}"
