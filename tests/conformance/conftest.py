"""Fixtures for the conformance suite: one real ``kubesvc up`` (host mode) for the whole
session, started with the e2e suite's :func:`tests.e2e.conftest.start_cluster`; a fresh
namespace per test, emptied and deleted afterwards so cases stay independent (upstream's
framework does the same per spec); the REST client and DNS prober bound to that cluster;
and, for the cases that need pods in their own network namespace, a netns-mode cluster
that starts only when such a case runs (root only; otherwise those cases skip and say why),
and a 2-node netns-mode cluster for the cases that need pods on two nodes (same terms).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conformance.framework import Api, ApiError, core, discovery, unique
from tests.conformance.probes import Dns
from tests.e2e.conftest import Cluster, start_cluster

NETNS_REASON = ("needs pods in their own network namespace (and their own /etc/hosts and "
                "resolv.conf): kubesvc's netns mode, which needs root")


def _missing_tools() -> str:
    missing = [t for t in ("kubectl",) if shutil.which(t) is None]
    return f"needs {', '.join(missing)} on PATH" if missing else ""


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    missing = _missing_tools()
    if missing:
        pytest.skip(missing)
    c = start_cluster(tmp_path_factory.mktemp("conformance") / "data")
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="session")
def api(cluster: Cluster) -> Api:
    return Api(cluster.kubeconfig)


@pytest.fixture(scope="session")
def dnsc(cluster: Cluster) -> Dns:
    return Dns("127.0.0.1", cluster.dns_port)


def _empty_namespace(api: Api, ns: str) -> None:
    # the controllers first, so that their pods, once deleted, are not made again
    owners = [f"/apis/{g}/namespaces/{ns}/{r}" for g, r in (
        ("apps/v1", "deployments"), ("apps/v1", "replicasets"), ("apps/v1", "statefulsets"),
        ("apps/v1", "daemonsets"), ("batch/v1", "cronjobs"), ("batch/v1", "jobs"))]
    paths = [*owners, core(ns, "replicationcontrollers"), core(ns, "services"),
             core(ns, "pods"), core(ns, "endpoints"), discovery(ns), core(ns, "configmaps")]
    for path in paths:
        try:
            items = api.list(path)
        except ApiError:
            continue
        for item in items:
            try:
                api.delete(f"{path}/{item['metadata']['name']}")
            except ApiError:
                pass
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            if not api.list(core(ns, "pods")):
                break
        except ApiError:
            break
        time.sleep(0.2)


@contextlib.contextmanager
def case_namespace(api: Api, request: pytest.FixtureRequest,
                   empty: Callable[[Api, str], None] = _empty_namespace) -> Iterator[str]:
    """A namespace of its own for one case (``f.Namespace``), named after it; afterwards
    ``empty`` clears it, then it is deleted (even when ``empty`` fails)."""
    base = request.node.name.removeprefix("test_").replace("_", "-")[:40].strip("-")
    name = unique(base)
    api.create(core(None, "namespaces"), {"apiVersion": "v1", "kind": "Namespace",
                                          "metadata": {"name": name}})
    try:
        yield name
    finally:
        try:
            empty(api, name)
        finally:
            try:
                api.delete(core(None, "namespaces", name))
            except ApiError:
                pass


@pytest.fixture
def ns(api: Api, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of its own for each test, removed afterwards."""
    with case_namespace(api, request) as name:
        yield name


class _NxdomainResolver(asyncio.DatagramProtocol):
    """The cluster's upstream resolver stand-in on 127.0.0.1: every name it is asked is
    NXDOMAIN (a real cluster's CoreDNS forwards out-of-zone names to the node's resolver;
    tests may not send traffic off the machine)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 12:
            return
        qd = int.from_bytes(data[4:6], "big")
        # Echo ID + question, set QR/RA, RCODE 3 (NXDOMAIN), no answers.
        flags = 0x8000 | (int.from_bytes(data[2:4], "big") & 0x0100) | 0x0080 | 3
        end = 12
        for _ in range(qd):
            while end < len(data) and data[end] != 0:
                end += data[end] + 1
            end += 5
        reply = data[:2] + flags.to_bytes(2, "big") + data[4:6] + bytes(6) + data[12:end]
        self.transport.sendto(reply, addr)  # type: ignore[attr-defined]


@contextlib.contextmanager
def _fake_upstream() -> Iterator[int]:
    loop = asyncio.new_event_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    transport, _ = loop.run_until_complete(
        loop.create_datagram_endpoint(_NxdomainResolver, sock=sock))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(transport.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(asyncio.sleep(0.01))  # let the close finish
        loop.close()


@pytest.fixture(scope="session")
def netns_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A netns-mode cluster (pods in their own network namespaces, upstream CIDRs); only
    root can make one, so elsewhere the cases that need it skip with the reason. Names
    outside the cluster zone are forwarded to a local NXDOMAIN resolver."""
    if os.geteuid() != 0:
        pytest.skip(f"{NETNS_REASON}; not running as root")
    with _netns_cluster(Path(tmp_path_factory.mktemp("conformance-netns")) / "data",
                        lb_pool="10.100.0.0/24") as c:
        yield c


@contextlib.contextmanager
def _netns_cluster(data: Path, *extra: str, lb_pool: str) -> Iterator[Cluster]:
    """``kubesvc up --network netns`` (plus ``extra`` flags) with upstream's Service CIDR
    and out-of-zone names forwarded to a local NXDOMAIN resolver; stopped afterwards."""
    with _fake_upstream() as port:
        argv = ("--network", "netns", *extra, "--dns-upstream", f"127.0.0.1:{port}")
        try:
            c = start_cluster(data, *argv, service_cidr="10.96.0.0/12", lb_pool=lb_pool)
        except AssertionError as exc:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            raise AssertionError(f"`kubesvc up {' '.join(argv[:-2])}` did not start: "
                                 f"{lines[-1]}") from exc
        try:
            yield c
        finally:
            c.stop()


@pytest.fixture
def netns_api(netns_cluster: Cluster) -> Api:
    return Api(netns_cluster.kubeconfig)


@pytest.fixture
def netns_ns(netns_api: Api, request: pytest.FixtureRequest) -> Iterator[str]:
    with case_namespace(netns_api, request) as name:
        yield name


TWO_NODES_REASON = ("needs two schedulable nodes: a 2-node netns-mode cluster (`kubesvc up "
                    "--network netns --nodes 2`), which needs root")


@pytest.fixture(scope="module")
def two_node_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A netns-mode cluster with two node agents (``node-1``, ``node-2``), one per module
    that asks for it (the multi-node cases share it); only root can make one, so elsewhere
    those cases skip with the reason. Out-of-zone names go to a local NXDOMAIN resolver."""
    if os.geteuid() != 0:
        pytest.skip(f"{TWO_NODES_REASON}; not running as root")
    with _netns_cluster(Path(tmp_path_factory.mktemp("conformance-2nodes")) / "data",
                        "--nodes", "2", lb_pool="172.20.0.64/27") as c:
        yield c


@pytest.fixture(scope="module")
def two_node_api(two_node_cluster: Cluster) -> Api:
    return Api(two_node_cluster.kubeconfig)
