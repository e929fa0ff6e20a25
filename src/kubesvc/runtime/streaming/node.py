"""The node agent's answers to the streaming server: which process a container runs as
(:func:`streaming_target`, for exec and attach) and how to reach a pod's port
(:func:`streaming_connector`, for port-forward: a :class:`~.dial.PodDialer`, in netns mode
from inside the pod's own network namespace to its localhost, as containerd connects in
the pod's sandbox; in host mode the pod's 127.x IP).

Called through :meth:`kubesvc.runtime.agent.NodeAgent.container_target` /
``pod_connector``; reads the agent's pod states, never writes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from kubesvc import errors
from kubesvc.runtime.streaming.dial import PodDialer
from kubesvc.runtime.streaming.exec import ContainerTarget

if TYPE_CHECKING:
    from kubesvc.runtime.agent import NodeAgent

Connect = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


def _run_as(pod: dict[str, Any], spec: dict[str, Any]) -> tuple[int | None, int | None]:
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    sc = spec.get("securityContext") or {}
    uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
    gid = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    return (int(uid) if uid is not None else None, int(gid) if gid is not None else None)


def streaming_target(agent: NodeAgent, namespace: str, pod: str,
                     container: str) -> ContainerTarget:
    key = f"{namespace}/{pod}"
    obj = agent._pod(key)
    st = agent.syncer.by_key.get(key)
    if obj is None or st is None or st.sandbox is None:
        raise errors.NotFound(f'pod "{pod}" not found on this node', name=pod, kind="pods")
    rec = st.records.get(container)
    cur = rec.current if rec is not None else None
    if cur is None or not cur.running:
        raise errors.NotFound(f'container not found ("{container}")', name=container,
                              kind="containers")
    spec = st.specs.get(container) or {}
    uid, gid = _run_as(obj, spec)
    attach_point = getattr(agent.runner, "attach_point", None)
    return ContainerTarget(
        namespace=namespace, pod=pod, container=container, pid=cur.pid,
        env=dict(st.envs.get(container) or {}), workdir=spec.get("workingDir") or None,
        uid=uid, gid=gid, fallback_prefix=agent.network.exec_prefix(st.sandbox),
        attach=attach_point(cur.id) if attach_point is not None else None,
        sandbox=cur.sandbox_join())


def streaming_connector(agent: NodeAgent, namespace: str, pod: str) -> Connect:
    st = agent.syncer.by_key.get(f"{namespace}/{pod}")
    if st is None or st.sandbox is None:
        raise errors.NotFound(f'pod "{pod}" not found on this node', name=pod, kind="pods")
    return PodDialer(st.uid, st.sandbox.ip, st.sandbox.netns)
