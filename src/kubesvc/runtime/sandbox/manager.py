"""SandboxManager: each pod's sandbox on the node for the process runtime — its directory
``<data_dir>/sandboxes/<pod-uid>/`` (``root/``, the mount point of each container's new
root; ``volumes/``; ``etc-hosts``, ``resolv.conf``, ``hostname``; one launch plan per
container), its volumes (fetched through the agent's client, written by :mod:`.atomic`,
re-written by :meth:`SandboxManager.refresh` when their sources change), and the launch plan
of each container (:mod:`.mountplan` + :mod:`.security`).

Isolation (``mode``): ``mount`` as root (a mount namespace per container), ``userns`` when
unprivileged and the kernel allows user namespaces, else ``none``: then a pod that needs a
volume or an identity fails with an event naming what cannot be provided (never silently
without it), and other pods run unisolated in their sandbox directory.

Called by :class:`kubesvc.runtime.containers.PodSyncer`; calls the client getter, an
optional TokenRequest function, and ``mount``/``umount`` (tmpfs emptyDirs, as root).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubesvc import errors
from kubesvc.api.storage import claim_host_path, host_path_for
from kubesvc.runtime import poddns
from kubesvc.runtime.sandbox import atomic, volumes
from kubesvc.runtime.sandbox.mountplan import VolumeBind, build_plan
from kubesvc.runtime.sandbox.security import identity
from kubesvc.runtime.sandbox.volumes import PodVolume, VolumeError

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Getter = Callable[[str, str, str], Awaitable[Obj]]
# (namespace, serviceaccount, TokenRequest) -> the TokenRequest with status.token, as
# POST /api/v1/namespaces/NS/serviceaccounts/SA/token answers.
TokenRequester = Callable[[str, str, Obj], Awaitable[Obj]]
LAUNCHER = str(Path(__file__).with_name("launch.py"))
STATE_FILES = ("tokens.csv", "state.db", "pki", "kubeconfig")


def client_token_requester(client: Any) -> TokenRequester:
    """TokenRequest through the agent's client: ``create("serviceaccounts", body,
    subresource="token", name=SA)``, as the in-process registry takes subresource POSTs. A
    client without subresource creates (TypeError) counts as a server without the API."""
    async def request(namespace: str, sa: str, body: Obj) -> Obj:
        try:
            out = await client.create("serviceaccounts", body, namespace=namespace,
                                      subresource="token", name=sa)
        except TypeError as exc:
            raise errors.MethodNotAllowed(f"this client cannot POST serviceaccounts/token: "
                                          f"{exc}") from exc
        return dict(out)

    return request


class SandboxUnavailable(Exception):
    """What the pod needs cannot be provided on this node (the event's message)."""

    reason = "CreateContainerConfigError"


def isolation() -> tuple[str, str]:
    """(mode, why not better): ``mount``, ``userns`` or ``none``."""
    if not Path("/proc/self/ns/mnt").exists():
        return "none", "the kernel has no mount namespaces"
    if os.geteuid() == 0:
        return "mount", ""
    for path, bad in (("/proc/sys/kernel/unprivileged_userns_clone", "0"),
                      ("/proc/sys/user/max_user_namespaces", "0"),
                      ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1")):
        with contextlib.suppress(OSError):
            if Path(path).read_text().strip() == bad:
                return "none", (f"the node agent is not root and unprivileged user namespaces "
                                f"are disabled ({path} = {bad})")
    return "userns", ""


def protected_paths(data_dir: Path, extra: list[Path]) -> list[str]:
    """The node's data dir, every ancestor holding cluster state, and ``extra``."""
    out = [data_dir.resolve(), *(p.resolve() for p in extra)]
    for parent in data_dir.resolve().parents:
        if any((parent / f).exists() for f in STATE_FILES):
            out.append(parent)
    return [str(p) for p in dict.fromkeys(out)]


@dataclass(slots=True)
class PodSandbox:
    uid: str
    dir: Path
    volumes: dict[str, PodVolume]
    etc_files: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, tuple[bytes, float]] = field(default_factory=dict)  # path -> (token,
    # refresh at)
    mounted: list[str] = field(default_factory=list)  # host tmpfs mounts to undo
    hostname: str = ""


class SandboxManager:
    def __init__(self, data_dir: Path, *, getter: Getter, token_requester: TokenRequester |
                 None = None, dns_ip: str = "", cluster_domain: str = "cluster.local",
                 protect: list[Path] | None = None, mode: str = "auto") -> None:
        self.root = Path(data_dir) / "sandboxes"
        self.getter = getter
        self.token_requester = token_requester
        self.dns_ip = dns_ip
        self.cluster_domain = cluster_domain
        self.protected = protected_paths(Path(data_dir), list(protect or []))
        self.mode, self.why = isolation() if mode == "auto" else (mode, "disabled")
        self.agent_uid = os.geteuid()
        self.pods: dict[str, PodSandbox] = {}
        self._warned_tokens = False
        # During one volume sync sweep: each ConfigMap/Secret fetched once for every pod.
        self._sweep: dict[tuple[str, str, str], Obj | None] | None = None

    @contextlib.contextmanager
    def sweep(self) -> Iterator[None]:
        """Around one refresh of every pod: sources shared by many pods (kube-root-ca.crt)
        are read once."""
        self._sweep = {}
        try:
            yield
        finally:
            self._sweep = None

    # -- pods
    async def prepare(self, pod: Obj, *, ip: str, hostname: str, host_hosts: bool = False
                      ) -> PodSandbox:
        """Set the pod's sandbox up (idempotent). Raises :class:`VolumeError` (FailedMount)
        or :class:`SandboxUnavailable`."""
        uid = str(pod["metadata"].get("uid") or "")
        psb = self.pods.get(uid)
        if psb is not None:
            return psb
        d = self.root / uid
        vols = {v.name: v for v in volumes.plan_volumes(pod, d)}
        if self.mode == "none" and vols:
            raise SandboxUnavailable(
                f"volumes {sorted(vols)} cannot be mounted: {self.why}")
        d.mkdir(parents=True, exist_ok=True)
        (d / "root").mkdir(exist_ok=True)
        psb = PodSandbox(uid, d, vols, hostname=hostname)
        try:
            for name, v in list(vols.items()):
                if v.kind == "persistentVolumeClaim":  # bind its volume's directory
                    vols[name] = v = dataclasses.replace(
                        v, host_path=await self._claim_path(pod, v))
                await self._set_up(pod, psb, v)
        except BaseException:
            self._undo_mounts(psb)
            raise
        hosts = (poddns.node_hosts_file(pod) if host_hosts else
                 poddns.hosts_file(pod, ip, cluster_domain=self.cluster_domain))
        (d / "etc-hosts").write_text(hosts)
        (d / "resolv.conf").write_text(poddns.resolv_conf(
            pod, dns_ip=self.dns_ip, cluster_domain=self.cluster_domain))
        (d / "hostname").write_text(hostname + "\n")
        psb.etc_files = {"/etc/hosts": str(d / "etc-hosts"),
                         "/etc/resolv.conf": str(d / "resolv.conf"),
                         "/etc/hostname": str(d / "hostname")}
        self.pods[uid] = psb
        return psb

    async def refresh(self, pod: Obj) -> bool:
        """Re-write the pod's configMap/secret/downwardAPI/projected volumes from their
        sources (atomically; unchanged ones are left alone). True when any changed."""
        psb = self.pods.get(str(pod["metadata"].get("uid") or ""))
        if psb is None:
            return False
        changed = False
        for v in psb.volumes.values():
            if v.projected_files:
                changed |= await self._write_files(pod, psb, v)
        return changed

    async def remove(self, pod_uid: str) -> None:
        psb = self.pods.pop(pod_uid, None)
        if psb is not None:
            self._undo_mounts(psb)
        d = self.root / pod_uid
        if d.exists():
            # tmpfs volumes left by a previous agent: unmount before deleting.
            for p in (d / "volumes").glob("*/*"):
                if os.path.ismount(p):
                    _umount(str(p))
            await asyncio.to_thread(shutil.rmtree, d, True)

    async def gc(self, keep: set[str]) -> int:
        """After a (re)start: remove the sandboxes of pods that are gone (their tmpfs
        emptyDirs unmounted first); returns how many."""
        n = 0
        if not self.root.is_dir():
            return 0
        for d in self.root.iterdir():
            if d.name in keep or not d.is_dir():
                continue
            await self.remove(d.name)
            n += 1
        return n

    def close(self) -> None:
        """The agent stops its pods: unmount their tmpfs emptyDirs (a next agent on the same
        data dir mounts them again for the pods it starts)."""
        for psb in self.pods.values():
            self._undo_mounts(psb)

    # -- containers
    def plan(self, pod: Obj, psb: PodSandbox, container: Obj, argv: list[str],
             env: dict[str, str]) -> str:
        """Write the container's launch plan; returns its path ("" when unisolated).
        Raises :class:`SecurityError` / :class:`VolumeError`."""
        ident = identity(pod, container, agent_uid=self.agent_uid)
        if self.mode == "none":
            if ident.uid is not None or ident.groups:
                raise SandboxUnavailable(f"the container's user and groups cannot be set: "
                                         f"{self.why}")
            return ""
        binds = []
        for m in container.get("volumeMounts") or []:
            v = psb.volumes.get(str(m.get("name") or ""))
            if v is None:
                raise VolumeError(str(m.get("name")), "no such volume in the pod")
            src = volumes.subpath_source(v, m, env)
            binds.append(VolumeBind(src, str(m["mountPath"]),
                                    bool(m.get("readOnly")) or v.read_only))
        etc = {t: s for t, s in psb.etc_files.items()
               if not any(b.target.rstrip("/") == t for b in binds)}
        workdir = str(container.get("workingDir") or "/")
        hostname = "" if poddns.host_network(pod) else psb.hostname
        plan = build_plan(root=str(psb.dir / "root"), argv=argv, env=env, volumes=binds,
                          etc_files=etc, protected=self.protected, workdir=workdir,
                          uid=ident.uid, gid=ident.gid, groups=ident.groups,
                          keep_caps=ident.keep_caps, userns=self.mode == "userns",
                          hostname=hostname)
        path = psb.dir / f"{container.get('name')}.plan.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(plan.to_json()))
        tmp.replace(path)
        return str(path)

    # -- volumes
    async def _set_up(self, pod: Obj, psb: PodSandbox, v: PodVolume) -> None:
        if v.kind == "hostPath":
            volumes.check_host_path(v.name, v.source)
            return
        if v.kind == "persistentVolumeClaim":
            return  # its directory was found by prepare()
        d = Path(v.host_path)
        if v.kind == "emptyDir":
            d.mkdir(parents=True, exist_ok=True)
            if v.medium == "Memory" and not os.path.ismount(d):
                if self.agent_uid != 0:
                    raise VolumeError(v.name, "emptyDir medium Memory (tmpfs) needs a root "
                                      "node agent")
                opts = "mode=0777" + (f",size={v.size_limit}" if v.size_limit else "")
                await asyncio.to_thread(_mount_tmpfs, str(d), opts)
                psb.mounted.append(str(d))
            os.chmod(d, 0o777)  # as the kubelet's emptyDir
            return
        # Unlike the kubelet, secrets stay on disk (under the 0700 data dir): a host tmpfs
        # per pod would outlive a kill -9 of the agent as a mount on the node.
        await self._write_files(pod, psb, v)

    async def _claim_path(self, pod: Obj, v: PodVolume) -> str:
        """The directory of the local volume the claim is bound to (a hostPath or local PV,
        as the local-path provisioner makes them); FailedMount until it is bound."""
        ns = str(pod["metadata"].get("namespace") or "default")
        claim_name = str(v.source.get("claimName") or "")
        claim = await self._get("persistentvolumeclaims", ns, claim_name)
        if claim is None:
            raise VolumeError(v.name, f'persistentvolumeclaim "{claim_name}" not found')
        volume = str((claim.get("spec") or {}).get("volumeName") or "")
        pv = await self._get("persistentvolumes", "", volume) if volume else None
        path = claim_host_path(claim, pv)
        if path is None:
            if pv is not None and host_path_for(pv) is None:
                raise VolumeError(v.name, f'persistentvolume "{volume}" is not a local volume '
                                  "(kubesvc's node agent mounts hostPath and local volumes)")
            raise VolumeError(v.name, f'persistentvolumeclaim "{claim_name}" is not bound')
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    async def _get(self, resource: str, ns: str, name: str) -> Obj | None:
        key = (resource, ns, name)
        if self._sweep is not None and key in self._sweep:
            return self._sweep[key]
        try:
            obj: Obj | None = await self.getter(resource, ns, name)
        except errors.NotFound:
            obj = None
        if self._sweep is not None:
            self._sweep[key] = obj
        return obj

    async def _payload(self, pod: Obj, psb: PodSandbox, v: PodVolume
                       ) -> dict[str, atomic.FileProjection]:
        ns = str(pod["metadata"].get("namespace") or "default")
        fs_group = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
        fsg = None if fs_group is None else int(fs_group)
        src = v.source
        if v.kind == "configMap":
            cm = await self._get("configmaps", ns, str(src.get("name") or ""))
            return volumes.configmap_payload(src, cm, ns=ns, fs_group=fsg)
        if v.kind == "secret":
            s = await self._get("secrets", ns, str(src.get("secretName") or ""))
            return volumes.secret_payload(src, s, ns=ns, fs_group=fsg)
        if v.kind == "downwardAPI":
            dm = src.get("defaultMode")
            return volumes.downward_payload(list(src.get("items") or []), pod,
                                            default_mode=None if dm is None else int(dm),
                                            fs_group=fsg)
        out: dict[str, atomic.FileProjection] = {}
        dm = src.get("defaultMode")
        mode = volumes.DEFAULT_MODE if dm is None else int(dm)
        for s in src.get("sources") or []:
            if "configMap" in s:
                c = s["configMap"] or {}
                obj = await self._get("configmaps", ns, str(c.get("name") or ""))
                out.update(volumes.configmap_payload(c, obj, ns=ns, default_mode=mode,
                                                     fs_group=fsg))
            elif "secret" in s:
                c = s["secret"] or {}
                obj = await self._get("secrets", ns, str(c.get("name") or ""))
                out.update(volumes.secret_payload(c, obj, ns=ns, default_mode=mode,
                                                  fs_group=fsg, name_field="name"))
            elif "downwardAPI" in s:
                out.update(volumes.downward_payload(list((s["downwardAPI"] or {}).get(
                    "items") or []), pod, default_mode=mode, fs_group=fsg))
            elif "serviceAccountToken" in s:
                tok = await self._token(pod, psb, s["serviceAccountToken"] or {})
                if tok is not None:
                    m, g = volumes.group_mode(fsg, mode)
                    path = str((s["serviceAccountToken"] or {}).get("path") or "token")
                    out[path] = atomic.FileProjection(tok, m, gid=g)
        return out

    async def _token(self, pod: Obj, psb: PodSandbox, src: Obj) -> bytes | None:
        """A bound token from the TokenRequest API, re-requested at 80% of its life as the
        kubelet's token manager does; None (the file is left out) while this node has no
        way to request one."""
        path = str(src.get("path") or "token")
        have = psb.tokens.get(path)
        if have is not None and time.time() < have[1]:
            return have[0]
        if self.token_requester is None:
            if not self._warned_tokens:
                log.warning("no TokenRequest client: serviceAccountToken volume sources are "
                            "left out")
                self._warned_tokens = True
            return None
        md = pod["metadata"]
        ttl = int(src.get("expirationSeconds") or 3600)
        body: Obj = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                     "spec": {"audiences": [src["audience"]] if src.get("audience") else [],
                              "expirationSeconds": ttl,
                              "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                                 "name": md["name"], "uid": md.get("uid")}}}
        sa = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
        try:
            out = await self.token_requester(str(md.get("namespace") or "default"), sa, body)
        except (errors.NotFound, errors.MethodNotAllowed) as exc:
            if f'serviceaccounts "{sa}" not found' in str(exc):
                raise
            if not self._warned_tokens:
                log.warning("the API server serves no TokenRequest (%s): serviceAccountToken "
                            "volume sources are left out", exc)
                self._warned_tokens = True
            return None
        tok = str((out.get("status") or {}).get("token") or "").encode()
        psb.tokens[path] = (tok, time.time() + 0.8 * ttl)
        return tok

    async def _write_files(self, pod: Obj, psb: PodSandbox, v: PodVolume) -> bool:
        try:
            payload = await self._payload(pod, psb, v)
            return await asyncio.to_thread(atomic.write_payload, Path(v.host_path), payload)
        except (ValueError, errors.KubeError) as exc:
            raise VolumeError(v.name, str(exc)) from exc

    def _undo_mounts(self, psb: PodSandbox) -> None:
        for p in psb.mounted:
            _umount(p)
        psb.mounted.clear()


def _mount_tmpfs(path: str, options: str) -> None:
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise VolumeError(os.path.basename(path), f"mount tmpfs: {r.stderr.strip()}")


def _umount(path: str) -> None:
    r = subprocess.run(["umount", "-l", path], capture_output=True, text=True)
    if r.returncode != 0:
        log.warning("umount %s: %s", path, r.stderr.strip())
