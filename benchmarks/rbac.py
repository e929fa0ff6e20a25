"""Benchmark ``rbac``: the cost of authorization on mutating requests. Two API servers
(:mod:`benchmarks.rbac_server`: Registry on sqlite + the HTTPS API server, nothing else)
run side by side, one with ``--authorization-mode=Node,RBAC``, one with ``AlwaysAllow``
(the allow-all path there was before RBAC); both hold the same objects: a Role granting
ConfigMap writes in namespace ``bench`` and 1,000 RoleBindings of it there, the one naming
the benchmark's non-admin token user last (a decision finds the user's bindings through
the subject index, not by walking them all). The same paced load (50 writes/s: ConfigMap
create, then GET + PUT update, only create and PUT timed) goes to each in alternating
phases (A B, B A, ...), so both see the same machine. Reports p50/p99 per mode and the
ratio of mutating p99s (target: at most 1.2x). Called by :mod:`benchmarks.run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.api_latency import paced
from benchmarks.cluster import Api, wait_ready
from benchmarks.common import PYTHON, Proc, free_port_both, ratio, start, summarize

NAME = "rbac"
NS = "bench"
BINDINGS = 1000
USER = "bench-writer"
MODES = ("Node,RBAC", "AlwaysAllow")
RBAC_API = "/apis/rbac.authorization.k8s.io/v1"


@contextlib.contextmanager
def server(mode: str) -> Iterator[tuple[Proc, Path, str, list[str]]]:
    """An API server in ``mode`` over a fresh data dir whose token file also holds the
    benchmark user's token; yields (process, data dir, that token, argv)."""
    from kubesvc.apiserver.http.auth import TokenFile

    data_dir = Path(tempfile.mkdtemp(prefix="kubesvc-bench-rbac-"))
    data_dir.chmod(0o700)
    tokens = TokenFile.load_or_create(data_dir / "tokens.csv")
    token = tokens.issue(USER, uid=USER, groups=("bench-writers",))
    argv = [PYTHON, "-m", "benchmarks.rbac_server", str(data_dir), str(free_port_both()),
            mode]
    proc = start(argv, name=f"kubesvc-rbac-{'allow' if mode == 'AlwaysAllow' else 'rbac'}")
    try:
        yield proc, data_dir, token, argv
    finally:
        proc.stop(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


async def _setup(admin: Api) -> None:
    await admin.call("POST", "/api/v1/namespaces", {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    await admin.call("POST", f"{RBAC_API}/namespaces/{NS}/roles", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "cm-writer", "namespace": NS},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                   "verbs": ["create", "get", "update", "list"]}]})
    sem = asyncio.Semaphore(16)

    async def bind(i: int) -> None:
        who = USER if i == BINDINGS - 1 else f"user-{i}"
        async with sem:
            await admin.call("POST", f"{RBAC_API}/namespaces/{NS}/rolebindings", {
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": f"rb-{i:04d}", "namespace": NS},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                            "name": "cm-writer"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                              "name": who}]})

    for start_at in range(0, BINDINGS - 1, 100):  # the user's own binding last
        await asyncio.gather(*(bind(i) for i in range(start_at, min(start_at + 100,
                                                                    BINDINGS - 1))))
    await bind(BINDINGS - 1)


async def _wait_allowed(api: Api, timeout: float = 30) -> None:
    """Until the RBAC caches hold the user's binding (a create is allowed)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await api.call("POST", f"/api/v1/namespaces/{NS}/configmaps", _cm("probe"))
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def _cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NS}, "data": {"key": "x" * 64}}


async def _phase(api: Api, lat: dict[str, list[float]], *, tag: str, seconds: float) -> float:
    base = f"/api/v1/namespaces/{NS}/configmaps"

    async def one(i: int) -> None:
        name = f"cm-{tag}-{i}"
        t = time.perf_counter()
        await api.call("POST", base, _cm(name))
        lat["create"].append((time.perf_counter() - t) * 1000)
        cur = await api.call("GET", f"{base}/{name}")
        cur["data"]["key"] = "y" * 64
        t = time.perf_counter()
        await api.call("PUT", f"{base}/{name}", cur)
        lat["update"].append((time.perf_counter() - t) * 1000)

    return await paced(50, seconds, one)


async def _run(quick: bool) -> dict[str, Any]:
    seconds = 2.0 if quick else 5.0
    rounds = 4
    with contextlib.ExitStack() as stack:
        servers = {m: stack.enter_context(server(m)) for m in MODES}
        apis: dict[str, Api] = {}
        setup: dict[str, float] = {}
        async with contextlib.AsyncExitStack() as astack:
            from kubesvc.client.kubeconfig import load_kubeconfig, write_kubeconfig

            for mode, (proc, data_dir, token, _argv) in servers.items():
                kubeconfig = data_dir / "kubeconfig"
                await wait_ready(proc, kubeconfig, timeout=60)
                admin = await astack.enter_async_context(Api(kubeconfig, connections=16))
                t0 = time.monotonic()
                await _setup(admin)
                setup_s = time.monotonic() - t0
                cfg = load_kubeconfig(kubeconfig)
                user_cfg = data_dir / "user.kubeconfig"
                write_kubeconfig(user_cfg, server=cfg.server, ca_pem=cfg.ca_data or b"",
                                 token=token)
                apis[mode] = await astack.enter_async_context(Api(user_cfg, connections=64))
                await _wait_allowed(apis[mode])
                setup[mode] = round(setup_s, 1)
            lat = {m: {"create": [], "update": []} for m in MODES}
            rates: dict[str, list[float]] = {m: [] for m in MODES}
            for r in range(rounds):  # A B, B A, ...: neither mode always goes first
                for mode in (MODES if r % 2 == 0 else MODES[::-1]):
                    rates[mode].append(await _phase(apis[mode], lat[mode], tag=f"r{r}",
                                                    seconds=seconds))
    out: dict[str, Any] = {"seconds_per_phase": seconds, "rounds": rounds,
                           "bindings": BINDINGS, "paced_rate": rates, "setup_s": setup,
                           "commands": [" ".join(a[3]) for a in servers.values()]}
    out["latency_ms"] = {m: {op: summarize(v) for op, v in ops.items()}
                         for m, ops in lat.items()}
    out["mutating_ms"] = {m: summarize(ops["create"] + ops["update"])
                          for m, ops in lat.items()}
    return out


def run(quick: bool) -> dict[str, Any]:
    res = asyncio.run(_run(quick))
    on, off = res["mutating_ms"]["Node,RBAC"], res["mutating_ms"]["AlwaysAllow"]
    p99_ratio = ratio(on.get("p99"), off.get("p99"))
    p50_ratio = ratio(on.get("p50"), off.get("p50"))
    met = p99_ratio is not None and p99_ratio <= 1.2
    rows = []
    for mode in MODES:
        for op in ("create", "update"):
            s = res["latency_ms"][mode][op]
            rows.append([mode, op, s.get("count"), s.get("p50"), s.get("p90"), s.get("p99"),
                         s.get("max")])
        s = res["mutating_ms"][mode]
        rows.append([mode, "all mutating", s.get("count"), s.get("p50"), s.get("p90"),
                     s.get("p99"), s.get("max")])
    res.update({
        "notes": [
            f"Two API servers (Registry on sqlite + HTTPS API server, no controllers) side by "
            f"side, `--authorization-mode=Node,RBAC` and `AlwaysAllow`, each holding a Role "
            f"and {BINDINGS:,} RoleBindings of it in namespace `{NS}`, the one naming the "
            f"non-admin token user `{USER}` last. The same paced load (50 writes/s: "
            "ConfigMap create, then GET + PUT; create and PUT timed) goes to each, in "
            f"{res['rounds']} rounds of {res['seconds_per_phase']:.0f} s phases (A B, B A, "
            "...). The 1-minute load average of the machine is given above: at several "
            "runnable processes per core the absolute numbers mostly measure the queue.",
            f"Mutating p99 with RBAC / allow-all: **{p99_ratio:.2f}x** (p50 "
            f"{p50_ratio:.2f}x); target at most 1.2x "
            + ("(met)." if met else "(**missed**)."),
        ] if p99_ratio is not None and p50_ratio is not None else ["no samples"],
        "head": ["authorization", "operation", "count", "p50 ms", "p90 ms", "p99 ms",
                 "max ms"],
        "rows": rows,
        "ratio": {"mutating_p99": p99_ratio, "mutating_p50": p50_ratio},
        "targets": {"mutating_p99_ratio_max": 1.2},
        "met": {"rbac_mutating_p99_ratio": met},
    })
    return res
