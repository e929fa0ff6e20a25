"""Fixtures for the API server integration tests: one server per test module (see
:mod:`harness`), a kubeconfig written to a temp dir, kubectl and raw HTTP helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesvc.client.kubeconfig import write_kubeconfig
from tests.integration.apiserver.harness import KUBECTL, Http, Kubectl, ServerThread


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    st = ServerThread(tmp_path_factory.mktemp("apiserver"))
    st.start()
    try:
        yield st
    finally:
        st.stop()


@pytest.fixture(scope="module")
def kubeconfig(server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kube") / "kubeconfig"
    write_kubeconfig(path, server=server.server.url, ca_pem=server.server.ca_pem,
                     token=server.server.token)
    return path


@pytest.fixture(scope="module")
def kubectl(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    if not Path(KUBECTL).exists():
        pytest.skip("kubectl is not installed")
    return Kubectl(kubeconfig, tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def http(server: ServerThread) -> Http:
    return Http(server.server.url, server.server.ca_pem, server.server.token)
