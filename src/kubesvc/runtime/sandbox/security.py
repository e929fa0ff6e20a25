"""A container's identity from its pod's and its own ``securityContext`` (container fields
win): uid (``runAsUser``), gid (``runAsGroup``), supplementary groups
(``supplementalGroups`` + ``fsGroup``), the capability bounding set (the container
runtimes' default set, ``capabilities.add``/``drop``, all when ``privileged``), and the
kubelet's ``runAsNonRoot`` verification with upstream's messages. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
CAPS = {
    "CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5,
    "SETGID": 6, "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9, "NET_BIND_SERVICE": 10,
    "NET_BROADCAST": 11, "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "IPC_OWNER": 15,
    "SYS_MODULE": 16, "SYS_RAWIO": 17, "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20,
    "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23, "SYS_RESOURCE": 24, "SYS_TIME": 25,
    "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28, "AUDIT_WRITE": 29, "AUDIT_CONTROL": 30,
    "SETFCAP": 31, "MAC_OVERRIDE": 32, "MAC_ADMIN": 33, "SYSLOG": 34, "WAKE_ALARM": 35,
    "BLOCK_SUSPEND": 36, "AUDIT_READ": 37, "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
}
# containerd's and Docker's default set.
DEFAULT_CAPS = ("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
                "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
                "AUDIT_WRITE")


class SecurityError(Exception):
    """The container cannot start as asked (reason CreateContainerConfigError)."""

    reason = "CreateContainerConfigError"


@dataclass(frozen=True, slots=True)
class Identity:
    uid: int | None  # None: as the node agent runs
    gid: int | None
    groups: list[int] = field(default_factory=list)
    keep_caps: list[int] | None = None  # None: every capability (privileged)
    fs_group: int | None = None


def _pick(name: str, pod_sc: Obj, sc: Obj) -> Any:
    return sc[name] if sc.get(name) is not None else pod_sc.get(name)


def _cap(name: str) -> int | None:
    n = name.upper()
    n = n[4:] if n.startswith("CAP_") else n
    return CAPS.get(n)


def pod_name(pod: Obj) -> str:
    md = pod.get("metadata") or {}
    return f"{md.get('name')}_{md.get('namespace', 'default')}({md.get('uid', '')})"


def identity(pod: Obj, container: Obj, *, agent_uid: int) -> Identity:
    """Raises :class:`SecurityError` for runAsNonRoot violations and for identities the
    node agent cannot give (a non-root agent can only run containers as itself)."""
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    sc = container.get("securityContext") or {}
    uid = _pick("runAsUser", pod_sc, sc)
    gid = _pick("runAsGroup", pod_sc, sc)
    if _pick("runAsNonRoot", pod_sc, sc):
        if uid is None and agent_uid == 0:
            raise SecurityError("container has runAsNonRoot and image will run as root "
                                f'(pod: "{pod_name(pod)}", container: {container.get("name")})')
        if uid is not None and int(uid) == 0:
            raise SecurityError("container's runAsUser breaks non-root policy "
                                f'(pod: "{pod_name(pod)}", container: {container.get("name")})')
    fs_group = pod_sc.get("fsGroup")
    groups = [int(g) for g in pod_sc.get("supplementalGroups") or []]
    if fs_group is not None and int(fs_group) not in groups:
        groups.append(int(fs_group))
    if agent_uid != 0 and ((uid is not None and int(uid) != agent_uid) or gid is not None
                           or groups):
        raise SecurityError("the node agent runs unprivileged (uid "
                            f"{agent_uid}): runAsUser/runAsGroup/supplementalGroups/fsGroup "
                            "other than its own cannot be provided")
    keep: list[int] | None
    if sc.get("privileged"):
        keep = None
    else:
        caps = sc.get("capabilities") or {}
        drop = {str(c).upper() for c in caps.get("drop") or []}
        names = set() if "ALL" in drop else set(DEFAULT_CAPS)
        names -= {n[4:] if n.startswith("CAP_") else n for n in drop}
        add = [str(c).upper() for c in caps.get("add") or []]
        if "ALL" in add:
            names = set(CAPS)
        names |= {n[4:] if n.startswith("CAP_") else n for n in add}
        keep = sorted(c for c in (_cap(n) for n in names) if c is not None)
    if uid is not None and gid is None:
        gid = 0  # the image's group: root's for every image here
    return Identity(None if uid is None else int(uid), None if gid is None else int(gid),
                    groups, keep, None if fs_group is None else int(fs_group))
