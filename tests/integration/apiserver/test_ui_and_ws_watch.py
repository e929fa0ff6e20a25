"""What the service map UI needs of the API server: a watch over a WebSocket with the
token in upstream's bearer subprotocol (each event one message), the static files without
a token under a CSP that allows only the page's own scripts, and ``/ui/metrics`` only for
an authorized user."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from typing import Any

import aiohttp

from tests.integration.apiserver.harness import ServerThread


def _ssl(server: ServerThread) -> ssl.SSLContext:
    pem = server.server.ca_pem
    return ssl.create_default_context(cadata=pem.decode() if isinstance(pem, bytes) else pem)


def _bearer_protocol(token: str) -> str:
    return ("base64url.bearer.authorization.k8s.io."
            + base64.urlsafe_b64encode(token.encode()).decode().rstrip("="))


async def _ws_watch(server: ServerThread, token: str, protocol: str) -> list[dict[str, Any]]:
    url = server.server.url.replace("https://", "wss://")
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(
                f"{url}/api/v1/namespaces/default/configmaps?watch=1",
                protocols=(_bearer_protocol(token), protocol), ssl=_ssl(server)) as ws:
            assert ws.protocol == protocol
            async with s.post(
                    f"{server.server.url}/api/v1/namespaces/default/configmaps",
                    json={"metadata": {"name": f"ws-{protocol.split('.')[0]}"}},
                    headers={"Authorization": f"Bearer {token}"}, ssl=_ssl(server)) as create:
                assert create.status == 201
            msg = await ws.receive(timeout=5)
    await asyncio.sleep(0.1)  # let the TLS transports finish closing (aiohttp closes lazily)
    raw = base64.b64decode(msg.data) if protocol.startswith("base64") else msg.data
    return [json.loads(raw)]


def test_watch_over_websocket_with_the_bearer_subprotocol(server: ServerThread) -> None:
    for protocol in ("binary.k8s.io", "base64.binary.k8s.io"):
        events = asyncio.run(_ws_watch(server, server.server.token, protocol))
        assert events[0]["type"] == "ADDED"
        assert events[0]["object"]["metadata"]["name"].startswith("ws-")


def test_websocket_watch_without_a_valid_token_is_refused(server: ServerThread) -> None:
    async def go() -> int:
        url = server.server.url.replace("https://", "wss://")
        async with aiohttp.ClientSession() as s:
            try:
                async with s.ws_connect(f"{url}/api/v1/configmaps?watch=1",
                                        protocols=(_bearer_protocol("nope"), "binary.k8s.io"),
                                        ssl=_ssl(server)):
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status
            finally:
                await asyncio.sleep(0.1)
    assert asyncio.run(go()) == 401


def test_static_files_need_no_token_and_carry_a_csp(server: ServerThread) -> None:
    async def go() -> None:
        async with aiohttp.ClientSession() as s:
            url = server.server.url

            async def get(path: str, **kw: Any) -> tuple[int, str, Any]:
                async with s.get(f"{url}{path}", ssl=_ssl(server), **kw) as r:
                    return r.status, await r.text(), r

            status, text, r = await get("/ui/")
            assert status == 200 and "importmap" in text
            csp = r.headers["Content-Security-Policy"]
            script_src = csp.split("script-src")[1].split(";")[0]
            assert "'self' 'sha256-" in script_src and "unsafe-inline" not in script_src
            status, _, js = await get("/ui/static/app.js")
            assert status == 200 and js.content_type == "text/javascript"
            for bad in ("/ui/static/../__init__.py", "/ui/static/nothing.js", "/ui/x"):
                assert (await get(bad))[0] == 404
            # anonymous: RBAC refuses (403, as upstream for any non-public path)
            assert (await get("/ui/metrics"))[0] == 403
            status, text, _ = await get(
                "/ui/metrics", headers={"Authorization": f"Bearer {server.server.token}"})
            assert status == 200 and "apiserver_request_total" in text
        await asyncio.sleep(0.1)
    asyncio.run(go())
