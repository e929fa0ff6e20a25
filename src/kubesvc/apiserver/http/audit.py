"""The audit log, as kube-apiserver's ``--audit-log-path`` / ``--audit-policy-file``: one
``audit.k8s.io/v1`` ``Event`` JSON line per mutating request (create, update, patch,
delete, deletecollection) at stage ``ResponseComplete``.

The policy is upstream's ``Policy`` (``audit.k8s.io/v1``): ``rules`` tried in order, the
first that matches a request gives its level — ``None`` (not logged), ``Metadata`` (who,
what, when, the response status), ``Request`` (plus ``requestObject``) or
``RequestResponse`` (plus ``responseObject``); a rule matches on ``verbs``, ``users``,
``userGroups``, ``namespaces`` and ``resources`` (``group`` + ``resources``, ``*`` or
``resource/subresource``), and ``omitStages`` containing ``ResponseComplete`` drops it. A
policy whose rules match nothing logs nothing, as upstream; with no policy file every
mutating request is logged at ``Metadata``. No rotation. Lines are appended and flushed
one request at a time (small local writes; no fsync). Called by :class:`.app.ApiApp`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson
import yaml
from aiohttp import web

from kubesvc.api.timefmt import micro_time
from kubesvc.apiserver.http import paths
from kubesvc.apiserver.http.auth import User

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGE = "ResponseComplete"
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class AuditConfigError(OSError):
    """The audit policy file is unusable; the message names the field. An ``OSError``
    (like a store that cannot be opened) so that ``kubesvc up``/``server`` report it in
    one line and exit non-zero."""


@dataclass(frozen=True, slots=True)
class Rule:
    level: str
    verbs: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()
    user_groups: frozenset[str] = frozenset()
    namespaces: frozenset[str] = frozenset()
    resources: tuple[tuple[str, frozenset[str]], ...] = ()
    omit: bool = False

    def matches(self, verb: str, user: User | None, ref: dict[str, str]) -> bool:
        if self.verbs and verb not in self.verbs:
            return False
        if self.users and (user is None or user.name not in self.users):
            return False
        if self.user_groups and (user is None or not self.user_groups & set(user.groups)):
            return False
        if self.namespaces and ref.get("namespace", "") not in self.namespaces:
            return False
        if self.resources:
            res = ref.get("resource", "")
            sub = ref.get("subresource", "")
            full = f"{res}/{sub}" if sub else res
            return any(group == ref.get("apiGroup", "") and (
                not names or "*" in names or full in names or f"{res}/*" in names
                or (sub and f"*/{sub}" in names))
                for group, names in self.resources)
        return True


def load_policy(path: Path) -> tuple[Rule, ...]:
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise AuditConfigError(f"cannot read audit policy {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise AuditConfigError(f"audit policy {path}: not YAML/JSON: {exc}") from exc
    try:
        return parse_policy(doc)
    except AuditConfigError as exc:
        raise AuditConfigError(f"audit policy {path}: {exc}") from None


def parse_policy(doc: Any) -> tuple[Rule, ...]:
    if not isinstance(doc, dict) or doc.get("kind") != "Policy" or doc.get(
            "apiVersion") != "audit.k8s.io/v1":
        raise AuditConfigError("kind/apiVersion: Invalid value: expected Policy/"
                               "audit.k8s.io/v1")
    rules = doc.get("rules")
    if not isinstance(rules, list) or not rules:
        raise AuditConfigError("rules: Required value: at least one rule is required")
    top_omit = "ResponseComplete" in (doc.get("omitStages") or [])
    return tuple(_rule(r, f"rules[{i}]", top_omit) for i, r in enumerate(rules))


def _set(raw: Any, path: str) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise AuditConfigError(f"{path}: Invalid value: expected a list of strings")
    return frozenset(raw)


def _rule(r: Any, path: str, top_omit: bool) -> Rule:
    if not isinstance(r, dict):
        raise AuditConfigError(f"{path}: Invalid value: expected an object")
    level = r.get("level")
    if level not in LEVELS:
        raise AuditConfigError(f"{path}.level: Unsupported value: {level!r}: supported "
                               f"values: {', '.join(repr(v) for v in LEVELS)}")
    resources = []
    for j, gr in enumerate(r.get("resources") or []):
        if not isinstance(gr, dict):
            raise AuditConfigError(f"{path}.resources[{j}]: Invalid value: expected an object")
        resources.append((str(gr.get("group", "")),
                          _set(gr.get("resources"), f"{path}.resources[{j}].resources")))
    if r.get("nonResourceURLs"):
        raise AuditConfigError(f"{path}.nonResourceURLs: Unsupported value: only resource "
                               "requests are audited")
    return Rule(level=level, verbs=_set(r.get("verbs"), f"{path}.verbs"),
                users=_set(r.get("users"), f"{path}.users"),
                user_groups=_set(r.get("userGroups"), f"{path}.userGroups"),
                namespaces=_set(r.get("namespaces"), f"{path}.namespaces"),
                resources=tuple(resources),
                omit=top_omit or STAGE in (r.get("omitStages") or []))


class AuditLog:
    """Writes Events to ``path`` (created 0600: it names users and objects)."""

    def __init__(self, path: Path, rules: tuple[Rule, ...] | None = None) -> None:
        self.path = path
        self.rules = rules
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file: IO[bytes] = os.fdopen(fd, "ab")

    def close(self) -> None:
        self._file.close()

    @staticmethod
    def audited(request: web.Request) -> bool:
        return request.method in _VERBS and request.path.startswith(("/api/", "/apis/"))

    def level(self, verb: str, user: User | None, ref: dict[str, str]) -> str:
        if self.rules is None:
            return "Metadata"
        for rule in self.rules:
            if rule.matches(verb, user, ref):
                return "None" if rule.omit else rule.level
        return "None"

    async def record(self, request: web.Request, response: web.StreamResponse,
                     user: User | None, *, received: datetime, audit_id: str,
                     impersonated: User | None = None) -> None:
        target = paths.parse(request.path)
        verb = _VERBS[request.method]
        ref: dict[str, str] = {}
        if target is not None:
            info = target.info
            if request.method == "DELETE" and not target.name:
                verb = "deletecollection"
            ref = {"resource": info.plural}
            if target.namespace:
                ref["namespace"] = target.namespace
            if target.name:
                ref["name"] = target.name
            if info.group:
                ref["apiGroup"] = info.group
            ref["apiVersion"] = info.version
            if target.subresource:
                ref["subresource"] = target.subresource
        level = self.level(verb, user, ref)
        if level == "None":
            return
        body = _json_body(response)
        status: dict[str, Any] = {"metadata": {}, "code": response.status}
        if response.status >= 400 and isinstance(body, dict) and body.get("kind") == "Status":
            status.update({k: body[k] for k in ("status", "message", "reason", "details")
                           if k in body})
        if "name" not in ref and verb == "create" and isinstance(body, dict) and (
                response.status < 300):
            name = (body.get("metadata") or {}).get("name")
            if name:
                ref["name"] = str(name)
        event: dict[str, Any] = {
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level,
            "auditID": audit_id,
            "stage": STAGE, "requestURI": str(request.rel_url), "verb": verb,
            "user": {} if user is None else _user_info(user),
            **({} if impersonated is None else {"impersonatedUser": _user_info(impersonated)}),
            "sourceIPs": _source_ips(request),
            "userAgent": request.headers.get("User-Agent", ""),
            "objectRef": ref, "responseStatus": status,
        }
        if level in ("Request", "RequestResponse") and ref.get("subresource") != "proxy":
            req_obj = _parse(await request.read()) if request.body_exists else None
            if req_obj is not None:
                event["requestObject"] = req_obj
        if level == "RequestResponse" and body is not None:
            event["responseObject"] = body
        event["requestReceivedTimestamp"] = micro_time(received)
        event["stageTimestamp"] = micro_time(datetime.now(UTC))
        self._file.write(orjson.dumps(event) + b"\n")
        self._file.flush()


def _user_info(user: User) -> dict[str, Any]:
    return {"username": user.name, **({"uid": user.uid} if user.uid else {}),
            "groups": list(user.groups),
            **({"extra": user.extra_dict()} if user.extra else {})}


def _source_ips(request: web.Request) -> list[str]:
    """X-Forwarded-For, then X-Real-Ip, then the peer, as upstream's utilnet.SourceIPs."""
    ips = [ip.strip() for ip in request.headers.get("X-Forwarded-For", "").split(",")
           if ip.strip()]
    real = request.headers.get("X-Real-Ip", "").strip()
    if real and real not in ips:
        ips.append(real)
    remote = request.remote or ""
    if remote and remote not in ips:
        ips.append(remote)
    return ips


def _parse(raw: bytes) -> Any:
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None  # YAML or protobuf bodies are left out rather than guessed at


def _json_body(response: web.StreamResponse) -> Any:
    if not isinstance(response, web.Response) or response.content_type != "application/json":
        return None
    body = response.body
    return _parse(body) if isinstance(body, bytes) else None
