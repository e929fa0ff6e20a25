"""Real kubectl v1.32 against the OpenAPI v3 documents (served by a throwaway aiohttp app on
127.0.0.1 with just enough discovery): ``kubectl explain`` reads the schemas, and
``kubectl create --validate=strict`` finds server-side field validation (it would otherwise
fetch /openapi/v2, which this app does not serve, and fail)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kubesvc.api import resources
from kubesvc.api.schema import openapi

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


def _resource_list(gv: str, rs: list[resources.ResourceInfo]) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": [
            {
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": list(r.verbs),
                "shortNames": list(r.short_names),
            }
            for r in rs
        ],
    }


def _app(seen: list[str]) -> web.Application:
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.append(request.path)
        resp: web.StreamResponse = await handler(request)
        return resp

    async def api(_: web.Request) -> web.Response:
        return web.json_response({"kind": "APIVersions", "versions": ["v1"]})

    async def apis(_: web.Request) -> web.Response:
        groups = [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
            }
            for g, vs in resources.groups().items()
            if g
        ]
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    async def core(_: web.Request) -> web.Response:
        return web.json_response(
            _resource_list("v1", [r for r in resources.RESOURCES if not r.group])
        )

    async def group(request: web.Request) -> web.Response:
        g, v = request.match_info["g"], request.match_info["v"]
        return web.json_response(
            _resource_list(
                f"{g}/{v}", [r for r in resources.RESOURCES if (r.group, r.version) == (g, v)]
            )
        )

    async def index(_: web.Request) -> web.Response:
        return web.json_response(openapi.openapi_v3_index())

    async def document(request: web.Request) -> web.Response:
        try:
            g, v = openapi.parse_gv_path(request.match_info["p"])
        except KeyError:
            raise web.HTTPNotFound() from None
        return web.Response(body=openapi.openapi_v3_json(g, v), content_type="application/json")

    app = web.Application(middlewares=[web.middleware(record)])
    app.router.add_get("/api", api)
    app.router.add_get("/apis", apis)
    app.router.add_get("/api/v1", core)
    app.router.add_get("/apis/{g}/{v}", group)
    app.router.add_get("/openapi/v3", index)
    app.router.add_get("/openapi/v3/{p:.*}", document)
    return app


async def _kubectl(server: TestServer, tmp: Path, *args: str) -> tuple[int, str]:
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{server.port}'}}}}]\n"
        "users: [{name: u, user: {}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )
    assert KUBECTL is not None
    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        str(kubeconfig),
        "--cache-dir",
        str(tmp / "cache"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"HOME": str(tmp), "PATH": "/usr/bin:/bin"},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    return proc.returncode or 0, out.decode()


MANIFEST = """\
apiVersion: v1
kind: Service
metadata: {name: my-app-service}
spec:
  type: NodePort
  selector: {app: my-app}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]}
"""


async def test_kubectl_reads_the_documents(tmp_path: Path) -> None:
    seen: list[str] = []
    server = TestServer(_app(seen), host="127.0.0.1")
    await server.start_server()
    try:
        code, out = await _kubectl(server, tmp_path, "explain", "service.spec.ports")
        assert code == 0, out
        assert "FIELD: ports <[]ServicePort>" in out
        assert "port\t<integer> -required-" in out
        code, out = await _kubectl(server, tmp_path, "explain", "deployments.spec.strategy")
        assert code == 0, out
        assert "rollingUpdate\t<RollingUpdateDeployment>" in out

        (tmp_path / "m.yaml").write_text(MANIFEST)
        seen.clear()
        code, out = await _kubectl(
            server,
            tmp_path,
            "create",
            "--dry-run=client",
            "--validate=strict",
            "-f",
            str(tmp_path / "m.yaml"),
            "-o",
            "name",
        )
        assert code == 0, out
        assert out.split() == ["service/my-app-service", "deployment.apps/web"]
        assert "/openapi/v3/api/v1" in seen and "/openapi/v3/apis/apps/v1" in seen
        assert "/openapi/v2" not in seen
    finally:
        await server.close()
