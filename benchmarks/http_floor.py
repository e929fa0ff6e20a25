"""The transport floor for :mod:`benchmarks.control_plane_scale`: an HTTPS server with the
API server's own stack (aiohttp, orjson, the TLS set-up of ``kubesvc up``) that answers
every POST the way a create does, decoding the body, stamping ``uid``,
``resourceVersion`` and ``creationTimestamp`` and sending the object back with 201, and
keeps the objects in a dict. No validation, defaulting, store, watch, controller or node
agent: the cost of the create calls alone, which no API server on this stack can go under.

Run as ``python -m benchmarks.http_floor --data-dir D --port P``; it writes
``D/kubeconfig`` (read by :class:`benchmarks.cluster.Api`); wait for the port before
using it. GET answers
``{"metadata": {"resourceVersion": ...}, "items": []}`` so the same driver code runs
against it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from benchmarks.common import PYTHON, Proc, free_port_both, start, wait_tcp
from kubesvc.apiserver.http.tls import ensure_tls
from kubesvc.client.kubeconfig import write_kubeconfig


def make_app() -> web.Application:
    revisions = itertools.count(1)
    objects: dict[str, Any] = {}

    async def create(req: web.Request) -> web.Response:
        obj = orjson.loads(await req.read())
        meta = obj.setdefault("metadata", {})
        meta["uid"] = str(uuid.uuid4())
        meta["resourceVersion"] = str(next(revisions))
        meta["creationTimestamp"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        objects[f"{req.path}/{meta.get('name', '')}"] = obj
        return web.Response(body=orjson.dumps(obj), status=201,
                            content_type="application/json")

    async def get(req: web.Request) -> web.Response:
        rv = str(next(revisions))
        return web.Response(body=orjson.dumps({"metadata": {"resourceVersion": rv},
                                               "items": []}),
                            content_type="application/json")

    app = web.Application()
    app.router.add_post("/{tail:.*}", create)
    app.router.add_get("/{tail:.*}", get)
    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--port", type=int, required=True)
    a = p.parse_args()
    tls = ensure_tls(a.data_dir)
    token = secrets.token_hex(16)

    write_kubeconfig(a.data_dir / "kubeconfig", server=f"https://127.0.0.1:{a.port}",
                     ca_pem=tls.ca_pem, token=token)
    web.run_app(make_app(), host="127.0.0.1", port=a.port, ssl_context=tls.server_context(),
                print=None, access_log=None)


@contextlib.contextmanager
def floor_server() -> Iterator[tuple[Proc, Path, list[str]]]:
    """Start the floor server in a fresh data dir; yields (process, data dir, argv) once it
    listens; stopped and removed afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix="kubesvc-bench-floor-"))
    port = free_port_both()
    argv = [PYTHON, "-m", "benchmarks.http_floor", "--data-dir", str(data_dir),
            "--port", str(port)]
    proc = start(argv, name="http-floor")
    try:
        wait_tcp("127.0.0.1", port, timeout=20)
        yield proc, data_dir, argv
    finally:
        proc.stop(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
