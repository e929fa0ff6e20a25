"""Helpers for the multi-node Services cases (:mod:`.test_service_multinode`): upstream's
service test jig and ``e2epod`` pieces on plain dicts (a Service selecting a ``testid``
label, agnhost pods bound to a node, waiting for readiness and endpoint counts), and
``RunHostCmd`` as ``curl`` run in a pod's network namespace - its own, entered with
``nsenter`` through its process, or its node's for a hostNetwork pod.

Calls :mod:`.framework` and :mod:`.podfiles`, ``curl``, ``nsenter`` and ``ip netns exec``;
never kubesvc itself.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from tests.conformance.framework import (
    Api,
    ApiError,
    agnhost_pod,
    core,
    discovery,
    is_ready,
    poll,
    service,
)
from tests.conformance.podfiles import pod_pid

ROUNDS = 3  # upstream: 5
ROUND_PAUSE = 1.0  # upstream: 5 s
FAIL_TIMEOUT = 2  # curl --connect-timeout for connections that must fail (upstream: 5)
PROXY_LAG = 15.0  # how long a change may take to reach every node's proxy


@dataclass(frozen=True)
class Node:
    """A Node of the cluster: its name, InternalIP and network namespace."""

    name: str
    ip: str
    netns: str  # from the cluster's netns.json


# -- pods and Services (the service test jig, e2epod) ------------------------------------


def jig_service(api: Api, ns: str, name: str, *, ports: list[dict[str, Any]],
                **spec: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """``e2eservice.NewTestJig(...).CreateTCPService``: a Service selecting the jig's
    ``testid`` label; returns it and the labels its pods must carry."""
    labels = {"testid": f"{name}-{uuid.uuid4()}"}
    svc = service(name, selector=labels, ports=ports, **spec)
    svc["metadata"]["labels"] = dict(labels)
    return dict(api.create(core(ns, "services"), svc)), labels


def pod_on(name: str, node: Node, *args: str, labels: dict[str, str] | None = None,
           **spec: Any) -> dict[str, Any]:
    """``e2epod.NewAgnhostPod`` bound to ``node`` (``SetNodeSelection``)."""
    pod = agnhost_pod(name, *args, labels=labels, **spec)
    pod["spec"]["nodeName"] = node.name
    pod["spec"].pop("terminationGracePeriodSeconds", None)  # upstream's default (30 s)
    return pod


def webserver_pod(name: str, node: Node, port: int, *, labels: dict[str, str],
                  grace: int) -> dict[str, Any]:
    """The cases' ``netexec --delay-shutdown`` webserver: it keeps serving for ``grace``
    seconds after SIGTERM, with a ``grace`` s termination grace period."""
    pod = pod_on(name, node, "netexec", "--http-port", str(port), "--delay-shutdown",
                 str(grace), labels=labels)
    pod["spec"]["terminationGracePeriodSeconds"] = grace
    return pod


def create_pods(api: Api, ns: str, *pods: dict[str, Any],
                timeout: float = 30) -> list[dict[str, Any]]:
    """Create ``pods`` and wait until each is Ready with an IP
    (``WaitTimeoutForPodReadyInNamespace``); a container that exits or cannot start fails
    at once, with its reason and log."""
    for pod in pods:
        api.create(core(ns, "pods"), pod)
    out = []
    for pod in pods:
        name = pod["metadata"]["name"]

        def ready(name: str = name) -> dict[str, Any] | None:
            got = api.get(core(ns, "pods", name))
            _fail_if_container_died(api, got)
            return got if is_ready(got) and got["status"].get("podIP") else None

        got = poll(ready, timeout=timeout, what=f"pod {ns}/{name} Ready with an IP")
        assert got is not None
        out.append(got)
    for pod in out:  # Ready for a moment, then exited (no readiness probe to say so)?
        _fail_if_container_died(api, api.get(core(ns, "pods", pod["metadata"]["name"])))
    return out


class ContainerDied(RuntimeError):
    """A container of a pod being waited for exited or cannot start: not worth waiting for
    (not an AssertionError, so :func:`poll` gives up at once)."""


def _fail_if_container_died(api: Api, pod: dict[str, Any]) -> None:
    md = pod["metadata"]
    for st in (pod.get("status") or {}).get("containerStatuses") or []:
        state = st.get("state") or {}
        last = st.get("lastState") or {}
        dead = state.get("terminated") or last.get("terminated")
        waiting = (state.get("waiting") or {}).get("reason", "")
        if dead or waiting in ("CrashLoopBackOff", "ErrImageNeverPull",
                               "CreateContainerError", "RunContainerError"):
            try:
                logs = api.get(core(md["namespace"], "pods", md["name"], "log"),
                               container=st["name"]).get("message", "")
            except ApiError as exc:
                logs = f"(no log: {exc})"
            raise ContainerDied(
                f"container {st['name']} of pod {md['namespace']}/{md['name']} "
                f"{'exited' if dead else waiting}: {json.dumps(dead or state)}; "
                f"log: {str(logs).strip()[-400:]!r}")


def wait_for_endpoint_count(api: Api, ns: str, svc: str, count: int) -> None:
    """``e2eendpointslice.WaitForEndpointCount``: the Service's EndpointSlices hold
    ``count`` endpoints."""
    def counted() -> bool:
        slices = api.list(discovery(ns), labelSelector=f"kubernetes.io/service-name={svc}")
        n = sum(len(sl.get("endpoints") or []) for sl in slices)
        assert n == count, f"{n} endpoints, want {count}"
        return True

    poll(counted, timeout=20, what=f"{count} endpoint(s) for {ns}/{svc}")


def wait_not_ready(api: Api, ns: str, name: str) -> None:
    """``e2epod.WaitForPodCondition(..., "pod not ready", ...)``."""
    poll(lambda: not is_ready(api.get(core(ns, "pods", name))), timeout=20,
         what=f"pod {ns}/{name} not Ready")


def assert_host_network(pod: dict[str, Any], node: Node) -> None:
    """What the kubelet gives a hostNetwork pod and these cases rely on: it lives in its
    node's network namespace, so its pod IP is the node's IP."""
    ip = pod["status"].get("podIP")
    assert ip == node.ip, (f"hostNetwork pod {pod['metadata']['name']} on {node.name} has "
                           f"podIP {ip}, not its node's IP {node.ip}: it does not run in the "
                           "node's network namespace")


# -- running commands in pods (RunHostCmd) -----------------------------------------------


def _argv_in(pod: dict[str, Any], node_netns: dict[str, str], argv: list[str]) -> list[str]:
    """``argv`` in the pod's network namespace: its own (entered through its process), or
    its node's for a hostNetwork pod."""
    if pod["spec"].get("hostNetwork"):
        return ["ip", "netns", "exec", node_netns[pod["spec"]["nodeName"]], *argv]
    return ["nsenter", "-t", str(pod_pid(pod)), "-n", "--", *argv]


@dataclass
class Exec:
    """``e2eoutput.RunHostCmd`` for the pods of one case."""

    nodes: tuple[Node, Node]

    @property
    def netns(self) -> dict[str, str]:
        return {n.name: n.netns for n in self.nodes}

    def curl(self, pod: dict[str, Any], url: str, *, connect_timeout: float,
             max_time: float | None = None, extra: tuple[str, ...] = ()
             ) -> subprocess.Popen[str]:
        argv = ["curl", "-q", "-s", "--connect-timeout", str(connect_timeout), *extra]
        if max_time is not None:
            argv += ["--max-time", str(max_time)]
        return subprocess.Popen(_argv_in(pod, self.netns, [*argv, url]),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, pod: dict[str, Any], url: str, *, connect_timeout: float,
            max_time: float | None = None, extra: tuple[str, ...] = ()) -> tuple[int, str]:
        """curl's exit code and output (-1 when it outlives its own limits)."""
        p = self.curl(pod, url, connect_timeout=connect_timeout, max_time=max_time,
                      extra=extra)
        try:
            out, _ = p.communicate(timeout=(max_time or connect_timeout) + 10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            return -1, ""
        return p.returncode, out

    def answer(self, pod: dict[str, Any], url: str) -> str:
        """What ``curl url`` prints in ``pod`` ("" when it fails)."""
        return self.run(pod, url, connect_timeout=3, max_time=5)[1].strip()

    def hostname_test(self, pod: dict[str, Any], addr: str, want: str, *,
                      timeout: float = PROXY_LAG) -> None:
        """``execHostnameTest``: ``curl addr/hostname`` from ``pod`` until it answers; the
        answer must be ``want``."""
        got = poll(partial(self.answer, pod, f"{addr}/hostname"), timeout=timeout,
                   what=f"{addr}/hostname from {pod['metadata']['name']}")
        assert got == want, (f"{addr}/hostname from {pod['metadata']['name']}: got {got!r}, "
                             f"want {want!r}")

    def fails(self, pod: dict[str, Any], addr: str) -> subprocess.Popen[str]:
        """Start ``curl addr/hostname`` from ``pod``; :meth:`assert_failed` checks it."""
        return self.curl(pod, f"{addr}/hostname", connect_timeout=FAIL_TIMEOUT)

    @staticmethod
    def assert_failed(p: subprocess.Popen[str], what: str) -> None:
        out, _ = p.communicate(timeout=FAIL_TIMEOUT + 10)  # reaped() kills it on timeout
        assert p.returncode != 0, f"expected error when trying to connect to {what}: {out!r}"

    @staticmethod
    @contextlib.contextmanager
    def reaped(*procs: subprocess.Popen[str]) -> Iterator[None]:
        """Kill and reap ``procs`` if the block fails before it checked them."""
        try:
            yield
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.communicate()

    def until_fails(self, pod: dict[str, Any], addr: str, what: str) -> None:
        """Poll until a connection from ``pod`` to ``addr`` fails (a change reached the
        node's proxy)."""
        poll(lambda: self.run(pod, f"{addr}/hostname", connect_timeout=FAIL_TIMEOUT)[0] != 0,
             timeout=PROXY_LAG, interval=0.5, what=f"{what} to stop serving")


def rounds() -> Iterator[int]:
    for i in range(ROUNDS):
        yield i
        time.sleep(ROUND_PAUSE)


def hostport(ip: str, port: int) -> str:
    return f"{ip}:{port}"


HTTP80 = [{"port": 80, "name": "http", "protocol": "TCP", "targetPort": 80}]
