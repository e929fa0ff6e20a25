"""``/version``, ``/healthz``, ``/livez``, ``/readyz`` as kube-apiserver answers them.

``/readyz`` is ``ok`` only when every readiness entry is true; ``?verbose`` lists each check
as ``[+]name ok`` / ``[-]name failed: reason withheld``; ``?exclude=name`` skips one;
``/readyz/<name>`` checks one. Called by :mod:`.app` (anonymous access allowed).
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable, Mapping

from aiohttp import web

from kubesvc.apiserver.http.negotiation import encode

GIT_VERSION = "v1.32.0-kubesvc"
BUILD_DATE = "2026-01-01T00:00:00Z"

Readiness = Callable[[], Mapping[str, bool]]


def version_info() -> dict[str, str]:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": BUILD_DATE,
        "goVersion": f"python{sys.version_info.major}.{sys.version_info.minor}",
        "compiler": "cpython",
        "platform": f"{sys.platform}/{arch}",
    }


_VERSION_BODY = encode(version_info())


def version(request: web.Request) -> web.Response:
    return web.Response(body=_VERSION_BODY, content_type="application/json")


def health(
    request: web.Request, endpoint: str, checks: Mapping[str, bool]
) -> web.Response:
    """Answer ``/{endpoint}`` or ``/{endpoint}/{check}``."""
    rest = request.path.strip("/").split("/", 1)
    all_checks = {"ping": True, **checks}
    if len(rest) == 2 and rest[1]:
        name = rest[1]
        if name not in all_checks:
            return web.Response(status=404, text="404 page not found\n")
        if all_checks[name]:
            return web.Response(text="ok")
        return web.Response(status=500, text=f"internal server error: {name} check failed\n")
    q = request.rel_url.query
    excluded = set(q.getall("exclude", []))
    selected = {k: v for k, v in all_checks.items() if k not in excluded}
    ok = all(selected.values())
    verbose = "verbose" in q
    if ok and not verbose:
        return web.Response(text="ok")
    lines = [
        f"[+]{name} ok" if good else f"[-]{name} failed: reason withheld"
        for name, good in selected.items()
    ]
    for name in sorted(excluded):
        lines.append(f"[+]{name} excluded: ok")
    lines.append(f"{endpoint} check passed" if ok else f"{endpoint} check failed")
    return web.Response(status=200 if ok else 500, text="\n".join(lines) + "\n")
