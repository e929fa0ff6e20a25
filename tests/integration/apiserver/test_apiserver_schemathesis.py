"""Schemathesis over the OpenAPI v3 documents this server serves (``/openapi/v3/api/v1``,
``apis/apps/v1``, ``apis/discovery.k8s.io/v1``): every operation is called with generated
requests over real HTTPS; no answer may be a 5xx (a dropped connection fails the call).
Bounded: a few examples per operation, watches and followed logs forced to end after a
second, the pod/service proxy left out (it dials the generated address)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.integration.apiserver.harness import ServerThread


@pytest.fixture(scope="module")
def ca_file(server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_bytes(server.server.ca_pem)
    return path


@pytest.fixture(scope="module", params=["api/v1", "apis/apps/v1", "apis/discovery.k8s.io/v1"])
def api_schema(server: ServerThread, ca_file: Path,
               request: pytest.FixtureRequest) -> Iterator[Any]:
    url = server.server.url
    resp = requests.get(f"{url}/openapi/v3/{request.param}", verify=str(ca_file), timeout=10,
                        headers={"Authorization": f"Bearer {server.server.token}"})
    resp.raise_for_status()
    schema = schemathesis.openapi.from_dict(resp.json())
    schema.config.update(base_url=url)
    yield schema.exclude(path_regex=r"/proxy|/watch/")


# schemathesis' own pytest integration (schemathesis.pytest.from_fixture) fails on this
# pytest ("'Function' object has no attribute '_nodeid'"), so each operation's strategy is
# driven by hypothesis directly, one operation after another.
def test_no_server_errors(api_schema: Any, server: ServerThread, ca_file: Path) -> None:
    headers = {"Authorization": f"Bearer {server.server.token}"}
    calls = 0

    def call(case: Any) -> None:
        nonlocal calls
        query = dict(case.query or {})
        if query.get("watch") not in (None, False, "false") or query.get("follow"):
            query["timeoutSeconds"] = 1
            query["follow"] = False
        case.query = query
        resp = case.call(verify=str(ca_file), timeout=20, headers=headers)
        calls += 1
        assert resp.status_code < 500, (case.method, case.formatted_path, case.query,
                                        resp.text[:500])

    operations = [op.ok() for op in api_schema.get_all_operations()]
    assert operations
    for op in operations:
        run = settings(max_examples=3, deadline=None, derandomize=True, database=None,
                       suppress_health_check=list(HealthCheck))(given(op.as_strategy())(call))
        run()
    assert calls >= len(operations)
