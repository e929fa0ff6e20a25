"""Fixtures for the conformance suite: one real ``kubesvc up`` (host mode) for the whole
session, started with the e2e suite's :func:`tests.e2e.conftest.start_cluster`; a fresh
namespace per test, emptied and deleted afterwards so cases stay independent (upstream's
framework does the same per spec); the REST client and DNS prober bound to that cluster;
and, for the cases that need pods in their own network namespace, a netns-mode cluster
that starts only when such a case runs (root only; otherwise those cases skip and say why).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
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
    paths = [core(ns, "services"), core(ns, "pods"), core(ns, "endpoints"), discovery(ns),
             core(ns, "configmaps")]
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


@pytest.fixture
def ns(api: Api, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of its own for each test (``f.Namespace``), removed afterwards."""
    base = request.node.name.removeprefix("test_").replace("_", "-")[:40].strip("-")
    name = unique(base)
    api.create(core(None, "namespaces"), {"apiVersion": "v1", "kind": "Namespace",
                                          "metadata": {"name": name}})
    try:
        yield name
    finally:
        _empty_namespace(api, name)
        try:
            api.delete(core(None, "namespaces", name))
        except ApiError:
            pass


@pytest.fixture(scope="session")
def netns_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A netns-mode cluster (pods in their own network namespaces, upstream CIDRs); only
    root can make one, so elsewhere the cases that need it skip with the reason."""
    if os.geteuid() != 0:
        pytest.skip(f"{NETNS_REASON}; not running as root")
    data = Path(tmp_path_factory.mktemp("conformance-netns")) / "data"
    try:
        c = start_cluster(data, "--network", "netns", service_cidr="10.96.0.0/12",
                          lb_pool="10.100.0.0/24")
    except AssertionError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise AssertionError(f"`kubesvc up --network netns` did not start: {lines[-1]}"
                             ) from exc
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def netns_api(netns_cluster: Cluster) -> Api:
    return Api(netns_cluster.kubeconfig)


@pytest.fixture
def netns_ns(netns_api: Api, request: pytest.FixtureRequest) -> Iterator[str]:
    name = unique(request.node.name.removeprefix("test_").replace("_", "-")[:40].strip("-"))
    netns_api.create(core(None, "namespaces"), {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": name}})
    try:
        yield name
    finally:
        _empty_namespace(netns_api, name)
        try:
            netns_api.delete(core(None, "namespaces", name))
        except ApiError:
            pass
