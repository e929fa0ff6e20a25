"""A container's environment, as the kubelet builds it (pkg/kubelet/envvars and
kubelet_pods.go makeEnvironmentVariables): Service link variables first, then ``envFrom``,
then ``env`` (``value`` with ``$(VAR)`` expansion, ``valueFrom`` fieldRef / configMapKeyRef /
secretKeyRef / resourceFieldRef - divided by its ``divisor`` and rounded up as the kubelet
does, an unset limit being the node's allocatable), plus what a container runtime adds
(``HOSTNAME``: the sandbox's hostname when the network mode gives one - the node's for a
hostNetwork pod in netns mode -, else ``spec.hostname`` or the pod name; ``PATH``) and
kubesvc's ``POD_IP`` / ``KUBESVC_BIND_ADDRESS``.

Called by the agent before each start; :func:`service_env` and :func:`expand` are pure.
ConfigMaps and Secrets are read through an async ``getter`` (the agent passes its client).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.runtime.poddns import pod_hostname
from kubesvc.runtime.sandbox.quantity import resource_value

Getter = Callable[[str, str, str], Awaitable[Obj]]  # (resource, namespace, name) -> object


class EnvError(Exception):
    """The container cannot be configured (reason CreateContainerConfigError)."""

    reason = "CreateContainerConfigError"


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def _ip_set(svc: Obj) -> bool:
    ip = (svc.get("spec") or {}).get("clusterIP") or ""
    return bool(ip) and ip != "None"


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def service_env(services: Iterable[Obj]) -> list[tuple[str, str]]:
    """Upstream ``envvars.FromServices``: ``{SVC}_SERVICE_HOST``/``_SERVICE_PORT[_NAME]`` and
    the Docker link variables, for services with a cluster IP."""
    out: list[tuple[str, str]] = []
    for svc in services:
        if not _ip_set(svc):
            continue
        spec = svc.get("spec") or {}
        ports = spec.get("ports") or []
        if not ports:
            continue
        ip = str(spec["clusterIP"])
        prefix = _env_name(str(svc["metadata"]["name"]))
        out.append((f"{prefix}_SERVICE_HOST", ip))
        out.append((f"{prefix}_SERVICE_PORT", str(ports[0].get("port"))))
        for sp in ports:
            if sp.get("name"):
                out.append((f"{prefix}_SERVICE_PORT_{_env_name(sp['name'])}", str(sp["port"])))
        for i, sp in enumerate(ports):
            proto = str(sp.get("protocol") or "TCP")
            port = int(sp.get("port") or 0)
            url = f"{proto.lower()}://{_join(ip, port)}"
            if i == 0:
                out.append((f"{prefix}_PORT", url))
            pp = f"{prefix}_PORT_{port}_{proto.upper()}"
            out += [(pp, url), (f"{pp}_PROTO", proto.lower()), (f"{pp}_PORT", str(port)),
                    (f"{pp}_ADDR", ip)]
    return out


def services_for_pod(pod: Obj, services: Iterable[Obj], *,
                     master_namespace: str = "default") -> list[Obj]:
    """The services whose variables a pod gets (kubelet getServiceEnvVarMap): those of its
    namespace when ``enableServiceLinks`` (default true), and always ``default/kubernetes``.
    A service in the pod's namespace wins over the master service of the same name."""
    ns = pod["metadata"].get("namespace", "default")
    links = (pod.get("spec") or {}).get("enableServiceLinks", True) is not False
    by_name: dict[str, Obj] = {}
    for svc in services:
        md = svc["metadata"]
        sns, name = md.get("namespace"), md["name"]
        if not _ip_set(svc):
            continue
        if sns == master_namespace and name == "kubernetes" and name not in by_name:
            by_name[name] = svc
        if sns == ns and links:
            by_name[name] = svc
    return [by_name[k] for k in sorted(by_name)]


_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)|\$\$")


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: defined references are replaced, ``$$`` escapes a
    ``$``, undefined references stay as written."""
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)

    return _REF.sub(sub, value)


_LABEL = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


def field_ref(pod: Obj, path: str) -> str:
    """The value of a downward-API ``fieldRef`` path."""
    md = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    simple: dict[str, Any] = {
        "metadata.name": md.get("name"),
        "metadata.namespace": md.get("namespace"),
        "metadata.uid": md.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
        "status.hostIPs": ",".join(a.get("ip", "") for a in status.get("hostIPs") or []),
        "status.podIPs": ",".join(a.get("ip", "") for a in status.get("podIPs") or []),
    }
    if path in simple:
        return str(simple[path] or "")
    m = _LABEL.match(path)
    if m:
        return str((md.get(m.group(1)) or {}).get(m.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = sorted((md.get(path.split(".")[1]) or {}).items())
        return "\n".join(f'{k}="{v}"' for k, v in items)
    raise EnvError(f'unsupported fieldRef path "{path}"')


async def _ref_value(getter: Getter, ns: str, ref: Obj, *, secret: bool) -> str | None:
    resource = "secrets" if secret else "configmaps"
    kind = "secret" if secret else "configmap"
    name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
    optional = bool(ref.get("optional"))
    try:
        obj = await getter(resource, ns, name)
    except errors.NotFound:
        if optional:
            return None
        raise EnvError(f'{kind} "{name}" not found') from None
    except errors.Forbidden as exc:
        # the Node authorizer has not seen this pod bound yet (or never will): retry later
        raise EnvError(exc.message) from None
    if secret and key in (obj.get("data") or {}):
        return base64.b64decode(obj["data"][key]).decode("utf-8", "replace")
    for section in ("data", "stringData") if secret else ("data", "binaryData"):
        if key in (obj.get(section) or {}):
            return str(obj[section][key])
    if optional:
        return None
    raise EnvError(f"couldn't find key {key} in {kind.capitalize()} {ns}/{name}")


async def container_env(
    pod: Obj,
    container: Obj,
    *,
    services: Iterable[Obj],
    getter: Getter,
    bind_address: str,
    hostname: str = "",
) -> dict[str, str]:
    """The full environment for one container start (pod status must carry podIP/hostIP);
    ``hostname`` is the sandbox's hostname (the container runtime's ``HOSTNAME``), when the
    network mode sets one."""
    ns = pod["metadata"].get("namespace", "default")
    env: dict[str, str] = {}
    for k, v in service_env(services_for_pod(pod, services)):
        env[k] = v
    for src in container.get("envFrom") or []:
        prefix = str(src.get("prefix") or "")
        secret = "secretRef" in src
        ref = src.get("secretRef") or src.get("configMapRef") or {}
        try:
            obj = await getter("secrets" if secret else "configmaps", ns, str(ref.get("name")))
        except errors.NotFound:
            if ref.get("optional"):
                continue
            kind = "secret" if secret else "configmap"
            raise EnvError(f'{kind} "{ref.get("name")}" not found') from None
        except errors.Forbidden as exc:
            raise EnvError(exc.message) from None
        for k, v in (obj.get("data") or {}).items():
            env[prefix + k] = base64.b64decode(v).decode("utf-8", "replace") if secret else str(v)
    for item in container.get("env") or []:
        name = str(item["name"])
        if "valueFrom" not in item:
            env[name] = expand(str(item.get("value") or ""), env)
            continue
        vf = item["valueFrom"] or {}
        val: str | None
        if "fieldRef" in vf:
            val = field_ref(pod, str(vf["fieldRef"].get("fieldPath") or ""))
        elif "configMapKeyRef" in vf:
            val = await _ref_value(getter, ns, vf["configMapKeyRef"], secret=False)
        elif "secretKeyRef" in vf:
            val = await _ref_value(getter, ns, vf["secretKeyRef"], secret=True)
        elif "resourceFieldRef" in vf:
            try:
                val = resource_value(container, vf["resourceFieldRef"])
            except ValueError as exc:
                raise EnvError(str(exc)) from exc
        else:
            val = ""
        if val is not None:
            env[name] = val
    status = pod.get("status") or {}
    if not hostname:
        hostname = pod_hostname(pod)
    base = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOSTNAME": hostname,
        "POD_IP": str(status.get("podIP") or ""),
        "KUBESVC_BIND_ADDRESS": bind_address,
    }
    if "PYTHONPATH" in os.environ:
        base["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return {**base, **env}
