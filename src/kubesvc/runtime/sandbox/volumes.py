"""A pod's volumes on the node, as the kubelet's volume plugins lay them out under
``<sandbox>/volumes/kubernetes.io~<plugin>/<name>``: emptyDir (a directory, or a tmpfs of
``sizeLimit`` for ``medium: Memory``), configMap, secret, downwardAPI and projected (files
written by :mod:`.atomic`: items, ``defaultMode``/``mode``, ``optional``, fsGroup), hostPath
(the host path itself after upstream's type check).

:func:`plan_volumes` and the ``*_payload`` builders are pure (the unit tests call them);
:func:`check_host_path` and :func:`prepare_empty_dir` touch the host. The object fetching and
refreshing is :class:`kubesvc.runtime.sandbox.manager.SandboxManager`'s.
"""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubesvc.runtime.envvars import EnvError, field_ref
from kubesvc.runtime.sandbox.atomic import FileProjection
from kubesvc.runtime.sandbox.quantity import parse_quantity, resource_value

Obj = dict[str, Any]
PLUGINS = {"emptyDir": "empty-dir", "configMap": "configmap", "secret": "secret",
           "downwardAPI": "downward-api", "projected": "projected", "hostPath": "host-path",
           "persistentVolumeClaim": "local-volume"}
# These are always mounted read-only into containers, as upstream's plugins do.
READ_ONLY_KINDS = frozenset({"configMap", "secret", "downwardAPI", "projected"})
DEFAULT_MODE = 0o644


class VolumeError(Exception):
    """A volume cannot be set up; the kubelet's ``FailedMount`` event message."""

    def __init__(self, volume: str, message: str) -> None:
        super().__init__(message)
        self.volume = volume
        self.message = message

    @property
    def event_message(self) -> str:
        return f'MountVolume.SetUp failed for volume "{self.volume}" : {self.message}'


@dataclass(frozen=True, slots=True)
class PodVolume:
    name: str
    kind: str  # a key of PLUGINS
    host_path: str  # what gets bind-mounted (the directory, or hostPath's path)
    source: Obj  # the volume source as written in the pod
    medium: str = ""
    size_limit: int | None = None

    @property
    def read_only(self) -> bool:
        return self.kind in READ_ONLY_KINDS

    @property
    def projected_files(self) -> bool:
        return self.kind in READ_ONLY_KINDS


def volume_kind(vol: Obj) -> str:
    for k in PLUGINS:
        if k in vol:
            return k
    others = [k for k in vol if k != "name"]
    return others[0] if others else ""


def plan_volumes(pod: Obj, sandbox_dir: Path) -> list[PodVolume]:
    """Where each of the pod's volumes lives on the node. Raises :class:`VolumeError` for a
    volume type kubesvc cannot provide (it is never silently left out)."""
    out = []
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        name = str(vol.get("name") or "")
        kind = volume_kind(vol)
        if kind not in PLUGINS:
            raise VolumeError(name, f"volume type {kind!r} is not supported by kubesvc's node "
                              "agent (emptyDir, configMap, secret, downwardAPI, projected, "
                              "hostPath, persistentVolumeClaim of a local volume are)")
        src = vol.get(kind) or {}
        if kind == "hostPath":
            out.append(PodVolume(name, kind, str(src.get("path") or ""), src))
            continue
        if kind == "persistentVolumeClaim":  # its volume's directory, found at set-up
            out.append(PodVolume(name, kind, "", src))
            continue
        d = sandbox_dir / "volumes" / f"kubernetes.io~{PLUGINS[kind]}" / name
        medium, limit = "", None
        if kind == "emptyDir":
            medium = str(src.get("medium") or "")
            if src.get("sizeLimit") is not None:
                limit = int(parse_quantity(str(src["sizeLimit"])))
        out.append(PodVolume(name, kind, str(d), src, medium, limit))
    return out


def group_mode(fs_group: int | None, mode: int) -> tuple[int, int]:
    """(mode, gid): with an fsGroup the files are group-owned by it and group-readable (the
    kubelet's ``SetVolumeOwnership`` on a read-only volume)."""
    if fs_group is None:
        return mode, -1
    return mode | 0o440, fs_group


def _items(data: dict[str, bytes], src: Obj, *, kind: str, ns: str, name: str,
           default_mode: int, fs_group: int | None) -> dict[str, FileProjection]:
    out: dict[str, FileProjection] = {}
    items = src.get("items") or []
    if not items:
        for k, v in data.items():
            m, g = group_mode(fs_group, default_mode)
            out[k] = FileProjection(v, m, gid=g)
        return out
    for it in items:
        key = str(it.get("key") or "")
        if key not in data:
            if src.get("optional"):
                continue
            if kind == "configmap":
                raise ValueError(f"configmap references non-existent config key: {key}")
            raise ValueError(f"references non-existent secret key: {key}")
        mode = it.get("mode")
        m, g = group_mode(fs_group, int(mode) if mode is not None else default_mode)
        out[str(it.get("path") or key)] = FileProjection(data[key], m, gid=g)
    return out


def configmap_data(cm: Obj) -> dict[str, bytes]:
    data = {k: str(v).encode() for k, v in (cm.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()})
    return data


def secret_data(secret: Obj) -> dict[str, bytes]:
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    data.update({k: str(v).encode() for k, v in (secret.get("stringData") or {}).items()})
    return data


def configmap_payload(src: Obj, cm: Obj | None, *, ns: str, default_mode: int | None = None,
                      fs_group: int | None = None) -> dict[str, FileProjection]:
    """Upstream configmap ``MakePayload``; ``cm`` None = not found. Raises ValueError with
    upstream's message."""
    name = str(src.get("name") or "")
    if cm is None:
        if src.get("optional"):
            return {}
        raise ValueError(f'configmap "{name}" not found')
    dm = src.get("defaultMode") if default_mode is None else default_mode
    return _items(configmap_data(cm), src, kind="configmap", ns=ns, name=name,
                  default_mode=DEFAULT_MODE if dm is None else int(dm), fs_group=fs_group)


def secret_payload(src: Obj, secret: Obj | None, *, ns: str, default_mode: int | None = None,
                   fs_group: int | None = None, name_field: str = "secretName"
                   ) -> dict[str, FileProjection]:
    name = str(src.get(name_field) or "")
    if secret is None:
        if src.get("optional"):
            return {}
        raise ValueError(f'secret "{name}" not found')
    dm = src.get("defaultMode") if default_mode is None else default_mode
    return _items(secret_data(secret), src, kind="secret", ns=ns, name=name,
                  default_mode=DEFAULT_MODE if dm is None else int(dm), fs_group=fs_group)


def _container(pod: Obj, name: str) -> Obj:
    spec = pod.get("spec") or {}
    cs = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    for c in cs:
        if c.get("name") == name:
            return dict(c)
    if not name and cs:
        return dict(cs[0])
    raise ValueError(f"container {name} not found")


def downward_payload(items: list[Obj], pod: Obj, *, default_mode: int | None,
                     fs_group: int | None = None) -> dict[str, FileProjection]:
    """Upstream downwardapi ``CollectData``: ``fieldRef`` (metadata.name, namespace, uid,
    labels, annotations, ...) and ``resourceFieldRef`` files."""
    out: dict[str, FileProjection] = {}
    for it in items:
        if "fieldRef" in it:
            try:
                value = field_ref(pod, str((it["fieldRef"] or {}).get("fieldPath") or ""))
            except EnvError as exc:
                raise ValueError(str(exc)) from exc
        elif "resourceFieldRef" in it:
            ref = it["resourceFieldRef"] or {}
            value = resource_value(_container(pod, str(ref.get("containerName") or "")), ref)
        else:
            continue
        mode = it.get("mode")
        dm = DEFAULT_MODE if default_mode is None else default_mode
        m, g = group_mode(fs_group, int(mode) if mode is not None else dm)
        out[str(it.get("path") or "")] = FileProjection(value.encode(), m, gid=g)
    return out


def check_host_path(name: str, src: Obj) -> None:
    """Upstream hostPath type checking (``checkType``), creating for the ``*OrCreate``
    types. Raises :class:`VolumeError` with upstream's messages."""
    path = str(src.get("path") or "")
    kind = str(src.get("type") or "")
    msg = f"hostPath type check failed: {path}"
    try:
        st: os.stat_result | None = os.stat(path)
    except OSError:
        st = None
    if kind == "" :
        return
    if kind == "DirectoryOrCreate":
        if st is None:
            try:
                os.makedirs(path, mode=0o755, exist_ok=True)
            except OSError as exc:
                raise VolumeError(name, f"{msg}: {exc.strerror}") from exc
            return
        if not stat.S_ISDIR(st.st_mode):
            raise VolumeError(name, f"{msg} is not a directory")
        return
    if kind == "FileOrCreate":
        if st is None:
            try:
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
                os.close(fd)
            except OSError as exc:
                raise VolumeError(name, f"{msg}: {exc.strerror}") from exc
            return
        if not stat.S_ISREG(st.st_mode):
            raise VolumeError(name, f"{msg} is not a file")
        return
    checks = {"Directory": (stat.S_ISDIR, "a directory"), "File": (stat.S_ISREG, "a file"),
              "Socket": (stat.S_ISSOCK, "a socket file"),
              "CharDevice": (stat.S_ISCHR, "a character device"),
              "BlockDevice": (stat.S_ISBLK, "a block device")}
    if kind not in checks:
        raise VolumeError(name, f"invalid HostPathType {kind}")
    test, what = checks[kind]
    if st is None or not test(st.st_mode):
        raise VolumeError(name, f"{msg} is not {what}")


def subpath_source(vol: PodVolume, mount: Obj, env: dict[str, str]) -> str:
    """The host path a volumeMount binds (``subPath`` / ``subPathExpr`` inside the volume,
    created as a directory if missing, as the kubelet does)."""
    sub = str(mount.get("subPath") or "")
    if not sub and mount.get("subPathExpr"):
        from kubesvc.runtime.envvars import expand

        sub = expand(str(mount["subPathExpr"]), env)
    if not sub:
        return vol.host_path
    if sub.startswith("/") or ".." in sub.split("/"):
        raise VolumeError(vol.name, f"subPath {sub!r} must be a relative path without '..'")
    p = Path(vol.host_path) / sub
    if not p.exists() and not p.is_symlink() and not vol.read_only:
        p.mkdir(parents=True, exist_ok=True)
    real = os.path.realpath(p)
    base = os.path.realpath(vol.host_path)
    if real != base and not real.startswith(base + "/"):
        raise VolumeError(vol.name, f"subpath {real!r} not within volume path {base!r}")
    return real
