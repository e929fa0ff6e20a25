"""Run a command or read a file as a pod's container sees them (``kubectl exec`` without
exec): find the container's process through /proc by the environment the node agent gives
it (``POD_IP`` and ``HOSTNAME``), then enter its namespaces with ``nsenter`` (network, mount
and UTS: its own in netns mode, the node's in host mode).

Used by the DNS cases that need a pod's own resolv.conf, /etc/hosts or hostname
(:mod:`.test_dns_pods`); needs root to see other users' processes and to enter namespaces.
Calls only the standard library and ``nsenter``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any


def _environ(pid: str) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    out = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            out[key.decode(errors="replace")] = value.decode(errors="replace")
    return out


def pod_pid(pod: dict[str, Any]) -> int:
    ip = pod["status"]["podIP"]
    names = {str(pod["spec"].get("hostname") or pod["metadata"]["name"])[:63]}
    if pod["spec"].get("hostNetwork"):
        names.add(str(pod["spec"].get("nodeName") or ""))  # netns mode: the node's hostname
    for pid in filter(str.isdigit, os.listdir("/proc")):
        env = _environ(pid)
        if env.get("POD_IP") == ip and env.get("HOSTNAME") in names:
            return int(pid)
    raise AssertionError(f"no process of pod {pod['metadata']['name']} (POD_IP={ip}, "
                         f"HOSTNAME in {sorted(names)}) found in /proc")


def pod_exec(pod: dict[str, Any], *argv: str, timeout: float = 10) -> str:
    """``argv``'s stdout, run inside the pod's network, mount and UTS namespaces; a
    non-zero exit fails the calling check."""
    pid = pod_pid(pod)
    r = subprocess.run(["nsenter", "-t", str(pid), "-n", "-m", "-u", "--", *argv],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, (f"{' '.join(argv)} in pod {pod['metadata']['name']} exited "
                               f"{r.returncode}: {r.stderr.strip()}")
    return r.stdout


def pod_file(pod: dict[str, Any], path: str) -> str:
    return pod_exec(pod, "cat", path)
