"""ApiServer lifecycle: TLS material and the admin token survive a restart on the same data
dir; the advertised URL carries the bound port; stop() ends open watches promptly; the
optional unix-socket listener authenticates like the TLS one."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiohttp

from kubesvc.apiserver.http import ApiServer
from kubesvc.apiserver.registry.core import Registry
from kubesvc.storage.memory import MemoryStore


async def test_restart_reuses_ca_and_token(tmp_path: Path) -> None:
    registry = Registry(MemoryStore(), compact_interval=0)
    await registry.start()
    try:
        first = ApiServer(registry, data_dir=tmp_path, port=0)
        await first.start()
        ca, token, url = first.ca_pem, first.token, first.url
        assert url.startswith("https://127.0.0.1:") and not url.endswith(":0")
        ctx = ssl.create_default_context(cadata=ca.decode())
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
            headers = {"Authorization": f"Bearer {token}"}
            watch = asyncio.ensure_future(s.get(
                url + "/api/v1/services?watch=true", headers=headers))
            resp = await asyncio.wait_for(watch, 5)
            assert resp.status == 200
            await asyncio.wait_for(first.stop(), 5)
            resp.close()
        sock = tmp_path / "api.sock"
        second = ApiServer(registry, data_dir=tmp_path, port=0, unix_socket=sock)
        await second.start()
        try:
            assert second.ca_pem == ca and second.token == token
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
                async with s.get(second.url + "/api/v1/namespaces",
                                 headers={"Authorization": f"Bearer {token}"}) as r:
                    assert r.status == 200
                    assert (await r.json())["kind"] == "NamespaceList"
                async with s.get(second.url + "/openapi/v2", headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
                }) as r:
                    assert r.status == 200 and await r.read() == b""
                    # The dotted form: Go's mime parser (kubectl) rejects the "@" one.
                    assert r.headers["Content-Type"] == (
                        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
            async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(str(sock))) as s:
                async with s.get("http://localhost/api/v1/namespaces/default") as r:
                    assert r.status == 403  # anonymous: RBAC says no
                async with s.get("http://localhost/api/v1/namespaces/default",
                                 headers={"Authorization": f"Bearer {token}"}) as r:
                    assert r.status == 200
        finally:
            await second.stop()
        assert not sock.exists()
    finally:
        await registry.stop()
