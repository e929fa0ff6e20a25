"""Generate :mod:`.schema` (the protobuf field tables) from Kubernetes' ``generated.proto``.

Developer tool, not used at run time:
``python -m kubesvc.apiserver.http.protobuf.generate DIR > .../protobuf/schema.py`` where
DIR holds ``generated.proto`` of k8s.io/api (core, apps, autoscaling, coordination,
discovery, events, authentication, authorization, rbac, batch, policy — v1) and
k8s.io/apimachinery (meta/v1, util/intstr, api/resource, runtime). Only the messages
reachable from the kinds this server serves are kept.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_PACKAGE = re.compile(r"^package\s+([\w.]+);", re.M)
_MESSAGE = re.compile(r"^message\s+(\w+)\s*\{(.*?)^\}", re.M | re.S)
_FIELD = re.compile(
    r"^\s*(optional|repeated)?\s*(map<\s*([\w.]+)\s*,\s*([\w.]+)\s*>|[\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;",
    re.M,
)
_SCALARS = frozenset({
    "string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "double", "float",
    "sint32", "sint64", "fixed32", "fixed64",
})
# Served kinds: apiVersion/kind -> message name.
ROOTS = {
    ("v1", k): f"k8s.io.api.core.v1.{k}"
    for k in ("Namespace", "Node", "Pod", "Service", "Endpoints", "Event", "ConfigMap", "Secret",
              "ServiceAccount", "Binding")
} | {
    ("apps/v1", k): f"k8s.io.api.apps.v1.{k}" for k in ("Deployment", "ReplicaSet")
} | {
    ("discovery.k8s.io/v1", "EndpointSlice"): "k8s.io.api.discovery.v1.EndpointSlice",
    ("coordination.k8s.io/v1", "Lease"): "k8s.io.api.coordination.v1.Lease",
    ("events.k8s.io/v1", "Event"): "k8s.io.api.events.v1.Event",
    ("autoscaling/v1", "Scale"): "k8s.io.api.autoscaling.v1.Scale",
    ("authentication.k8s.io/v1", "SelfSubjectReview"):
        "k8s.io.api.authentication.v1.SelfSubjectReview",
    ("authentication.k8s.io/v1", "TokenRequest"): "k8s.io.api.authentication.v1.TokenRequest",
    ("authentication.k8s.io/v1", "TokenReview"): "k8s.io.api.authentication.v1.TokenReview",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"):
        "k8s.io.api.authorization.v1.SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"):
        "k8s.io.api.authorization.v1.SelfSubjectRulesReview",
    ("authorization.k8s.io/v1", "SubjectAccessReview"):
        "k8s.io.api.authorization.v1.SubjectAccessReview",
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"):
        "k8s.io.api.authorization.v1.LocalSubjectAccessReview",
} | {
    ("rbac.authorization.k8s.io/v1", k): f"k8s.io.api.rbac.v1.{k}"
    for k in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
} | {
    ("v1", "DeleteOptions"): "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    ("meta.k8s.io/v1", "DeleteOptions"): "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
} | {  # issue 21
    ("batch/v1", "Job"): "k8s.io.api.batch.v1.Job",
    ("batch/v1", "CronJob"): "k8s.io.api.batch.v1.CronJob",
    ("apps/v1", "DaemonSet"): "k8s.io.api.apps.v1.DaemonSet",
    ("v1", "ReplicationController"): "k8s.io.api.core.v1.ReplicationController",
    ("policy/v1", "PodDisruptionBudget"): "k8s.io.api.policy.v1.PodDisruptionBudget",
    ("policy/v1", "Eviction"): "k8s.io.api.policy.v1.Eviction",
}

Field = tuple[str, str, int]  # json name, type, flags (1 repeated, 2 map with "K,V" type)

# Embedded structs that JSON inlines (Go's `json:",inline"`): written with an empty name.
INLINE = frozenset({
    ("k8s.io.api.core.v1.Volume", "volumeSource"),
    ("k8s.io.api.core.v1.Probe", "handler"),
    ("k8s.io.api.core.v1.EphemeralContainer", "ephemeralContainerCommon"),
    *((f"k8s.io.api.core.v1.{m}", "localObjectReference") for m in (
        "ConfigMapEnvSource", "ConfigMapKeySelector", "ConfigMapProjection",
        "ConfigMapVolumeSource", "SecretEnvSource", "SecretKeySelector", "SecretProjection")),
})


def parse(paths: list[Path]) -> dict[str, dict[int, Field]]:
    messages: dict[str, dict[int, Field]] = {}
    for path in paths:
        text = path.read_text()
        text = re.sub(r"//[^\n]*", "", text)
        m = _PACKAGE.search(text)
        if m is None:
            continue
        pkg = m.group(1)
        local = {mm.group(1) for mm in _MESSAGE.finditer(text)}
        for mm in _MESSAGE.finditer(text):
            fields: dict[int, Field] = {}
            for f in _FIELD.finditer(mm.group(2)):
                label, typ, mk, mv, name, num = f.groups()
                flags = 1 if label == "repeated" else 0
                if mk:
                    flags = 2
                    v = mv.lstrip(".")
                    if v not in _SCALARS and "." not in v and v in local:
                        v = f"{pkg}.{v}"
                    typ = f"{mk},{v}"
                else:
                    typ = typ.lstrip(".")
                    if typ not in _SCALARS and "." not in typ:
                        typ = f"{pkg}.{typ}"
                if (f"{pkg}.{mm.group(1)}", name) in INLINE:
                    name = ""
                fields[int(num)] = (name, typ, flags)
            messages[f"{pkg}.{mm.group(1)}"] = fields
    return messages


def reachable(messages: dict[str, dict[int, Field]], roots: list[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen or name not in messages:
            continue
        seen.add(name)
        for _, typ, flags in messages[name].values():
            t = typ.split(",", 1)[1] if flags == 2 else typ
            if t not in _SCALARS:
                stack.append(t)
    return seen


def _table_name(message: str) -> str:
    """``k8s.io.api.core.v1.Container`` -> ``_CONTAINER_FIELDS``."""
    short = message.rsplit(".", 1)[1]
    return "_" + re.sub(r"(?<!^)(?=[A-Z])", "_", short).upper() + "_FIELDS"


def _table_lines(fields: dict[int, Field], indent: str) -> list[str]:
    return [f"{indent}{num}: {field!r}," for num, field in sorted(fields.items())]


def render(messages: dict[str, dict[int, Field]], keep: set[str], share_from: int = 6) -> str:
    """The text of :mod:`.schema`. A field table of ``share_from`` or more fields that several
    messages have alike (upstream's EphemeralContainerCommon repeats Container's fields) is
    written once, as a module constant named after the first of them, and those messages all
    refer to it; smaller tables that happen to match stay written out."""
    first: dict[tuple[tuple[int, Field], ...], str] = {}
    users: dict[str, list[str]] = {}
    for name in sorted(keep):
        key = tuple(sorted(messages[name].items()))
        if len(key) < share_from:
            continue
        users.setdefault(first.setdefault(key, name), []).append(name)
    shared = {
        name: owner for owner, names in users.items() if len(names) > 1 for name in names
    }
    out = [
        "# ruff: noqa: E501",
        '"""Protobuf field tables of the served kinds, generated from Kubernetes\'',
        "``generated.proto`` by :mod:`.generate` (do not edit). message -> field number ->",
        '(JSON name, type, flags: 1 repeated, 2 map with "key,value" type)."""',
        "",
        "from __future__ import annotations",
        "",
        "ROOTS: dict[tuple[str, str], str] = {",
    ]
    out += [f"    {k!r}: {v!r}," for k, v in sorted(ROOTS.items())]
    out.append("}")
    for owner in sorted(set(shared.values())):
        alike = ", ".join(n.rsplit(".", 1)[1] for n in users[owner])
        out += [
            "",
            f"# The fields of {alike}.",
            f"{_table_name(owner)}: dict[int, tuple[str, str, int]] = {{",
        ]
        out += _table_lines(messages[owner], "    ")
        out.append("}")
    out += ["", "MESSAGES: dict[str, dict[int, tuple[str, str, int]]] = {"]
    for name in sorted(keep):
        if name in shared:
            out.append(f"    {name!r}: {_table_name(shared[name])},")
            continue
        out.append(f"    {name!r}: {{")
        out += _table_lines(messages[name], "        ")
        out.append("    },")
    out.append("}")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    messages = parse(sorted(Path(argv[0]).glob("*.proto")))
    keep = reachable(messages, [*ROOTS.values(), "k8s.io.apimachinery.pkg.runtime.Unknown"])
    sys.stdout.write(render(messages, keep))
    return 0

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
