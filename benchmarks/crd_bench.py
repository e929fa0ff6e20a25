"""Benchmark ``crd``: the cost of serving custom resources. One API server
(:mod:`benchmarks.rbac_server` in ``Node,RBAC`` mode: Registry on sqlite + the HTTPS API
server, nothing else) holds a CustomResourceDefinition whose schema has what real ones
carry (nested properties, a pattern, an enum, defaults, a CEL rule, printer columns);
closed-loop creates (32 in flight) of custom objects and of ConfigMaps of about the same
size go to it in alternating phases (CR CM, CM CR, ...), so both see the same machine
and server. Reports each create rate, p50/p99, and the ratio of the rates (custom /
ConfigMap). Called by :mod:`benchmarks.run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.cluster import Api, wait_ready
from benchmarks.common import PYTHON, Proc, free_port_both, ratio, start, summarize

NAME = "crd"
NS = "bench"
GROUP = "bench.kubesvc.io"
CONCURRENCY = 32
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {
        "group": GROUP, "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "subresources": {"status": {}},
            "additionalPrinterColumns": [
                {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object",
                         "x-kubernetes-validations": [{"rule": "self.size <= self.max",
                                                       "message": "too big"}],
                         "properties": {
                             "size": {"type": "integer", "minimum": 0},
                             "max": {"type": "integer", "default": 100},
                             "color": {"type": "string", "enum": ["red", "blue"],
                                       "default": "red"},
                             "key": {"type": "string", "pattern": "^[a-z]+$"},
                             "labels": {"type": "object",
                                        "additionalProperties": {"type": "string"}}}},
                "status": {"type": "object",
                           "properties": {"ready": {"type": "boolean"}}}}}},
        }],
    },
}


@contextlib.contextmanager
def server() -> Iterator[tuple[Proc, Path, list[str]]]:
    data_dir = Path(tempfile.mkdtemp(prefix="kubesvc-bench-crd-"))
    data_dir.chmod(0o700)
    argv = [PYTHON, "-m", "benchmarks.rbac_server", str(data_dir), str(free_port_both()),
            "Node,RBAC"]
    proc = start(argv, name="kubesvc-crd")
    try:
        yield proc, data_dir, argv
    finally:
        proc.stop(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


def _widget(name: str) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"size": 3, "key": "x" * 40, "labels": {"a": "b"}}}


def _cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NS},
            "data": {"size": "3", "key": "x" * 40, "max": "100", "color": "red"}}


async def _closed_loop(n: int, fn: Callable[[int], Awaitable[None]]) -> float:
    """Run ``fn(0..n-1)`` with CONCURRENCY in flight; returns completions per second."""
    it = iter(range(n))

    async def worker() -> None:
        for i in it:
            await fn(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return n / max(time.perf_counter() - t0, 1e-9)


async def _phase(api: Api, kind: str, lat: list[float], *, tag: str, n: int) -> float:
    path = (f"/apis/{GROUP}/v1/namespaces/{NS}/widgets" if kind == "custom"
            else f"/api/v1/namespaces/{NS}/configmaps")
    body = _widget if kind == "custom" else _cm

    async def one(i: int) -> None:
        t = time.perf_counter()
        await api.call("POST", path, body(f"o-{tag}-{i}"))
        lat.append((time.perf_counter() - t) * 1000)

    return await _closed_loop(n, one)


async def _wait_established(api: Api, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        crd = await api.call("GET", "/apis/apiextensions.k8s.io/v1/"
                                    f"customresourcedefinitions/widgets.{GROUP}")
        conds = {c["type"]: c["status"] for c in crd["status"].get("conditions") or []}
        if conds.get("Established") == "True":
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the benchmark CRD was never established")
        await asyncio.sleep(0.05)


async def _run(quick: bool) -> dict[str, Any]:
    per_phase = 300 if quick else 1500
    rounds = 4
    kinds = ("custom", "configmap")
    with server() as (proc, data_dir, argv):
        kubeconfig = data_dir / "kubeconfig"
        await wait_ready(proc, kubeconfig, timeout=60)
        async with Api(kubeconfig, connections=CONCURRENCY) as api:
            await api.call("POST", "/api/v1/namespaces", {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
            await api.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                           CRD)
            await _wait_established(api)
            await _phase(api, "custom", [], tag="warm", n=50)
            await _phase(api, "configmap", [], tag="warm", n=50)
            lat: dict[str, list[float]] = {k: [] for k in kinds}
            rates: dict[str, list[float]] = {k: [] for k in kinds}
            for r in range(rounds):
                for kind in (kinds if r % 2 == 0 else kinds[::-1]):
                    rates[kind].append(await _phase(api, kind, lat[kind], tag=f"r{r}",
                                                    n=per_phase))
    return {"objects_per_phase": per_phase, "rounds": rounds, "concurrency": CONCURRENCY,
            "rates": {k: [round(x, 1) for x in v] for k, v in rates.items()},
            "rate": {k: round(sum(v) / len(v), 1) for k, v in rates.items()},
            "latency_ms": {k: summarize(v) for k, v in lat.items()},
            "commands": [" ".join(argv)]}


def run(quick: bool) -> dict[str, Any]:
    res = asyncio.run(_run(quick))
    cr, cm = res["rate"]["custom"], res["rate"]["configmap"]
    rate_ratio = ratio(cr, cm)
    rows = []
    for kind, label in (("custom", "custom object (Widget)"), ("configmap", "ConfigMap")):
        s = res["latency_ms"][kind]
        rows.append([label, res["rate"][kind], s.get("count"), s.get("p50"), s.get("p99"),
                     s.get("max")])
    res.update({
        "notes": [
            "One API server (Registry on sqlite + HTTPS API server, RBAC on, no "
            "controllers). A CRD whose v1 schema has nested properties, a pattern, an enum, "
            "two defaults, a CEL rule and a printer column; closed-loop creates with "
            f"{CONCURRENCY} in flight, {res['objects_per_phase']} objects a phase, "
            f"{res['rounds']} rounds alternating custom objects and ConfigMaps of about "
            "the same size.",
            f"Custom-object create rate / ConfigMap create rate: **{rate_ratio:.2f}x** "
            "(the custom path adds pruning, defaulting, OpenAPI and CEL validation).",
        ] if rate_ratio is not None else ["no samples"],
        "head": ["object", "creates/s", "count", "p50 ms", "p99 ms", "max ms"],
        "rows": rows,
        "ratio": {"create_rate_custom_over_configmap": rate_ratio},
    })
    return res
