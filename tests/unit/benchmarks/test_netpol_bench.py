"""The netpol benchmark's pure parts: its 1,000 policies pass the API server's validation,
the rendered table isolates the backend and allows the client (and only through the last
policy's port), and the summary reads its samples."""

from __future__ import annotations

from benchmarks import netpol
from kubesvc.api.defaults import apply_defaults
from kubesvc.api.validation import validate_create

KEY = "networkpolicies.networking.k8s.io"


def test_policies_are_valid() -> None:
    pols, pods, _ = netpol.cluster_objects()
    assert len(pols) == netpol.POLICIES and len(pods) == netpol.OTHER_PODS + 2
    for p in (pols[0], pols[9], pols[-1]):
        apply_defaults(KEY, p)
        assert validate_create(KEY, p) == []


def test_ruleset_allows_the_client_on_the_port_only() -> None:
    text, _, elements = netpol.ruleset(True)
    assert f"ingress-isolated {{ {netpol.BACKEND} }}" in text
    assert f"{netpol.BACKEND} . {netpol.CLIENT} . tcp . {netpol.PORT}" in text
    assert elements > 500
    empty, _, none = netpol.ruleset(False)
    assert none == 0 and "add element" not in empty


def test_summary() -> None:
    run = {"rps": 100.0, "p99_ms": 1.0, "command": "wrk"}
    samples = {m: {p: [dict(run), dict(run)] for p in netpol.PATHS} for m in netpol.MODES}
    samples["close"]["policies"] = [{**run, "rps": 90.0}] * 2
    prog = {"samples": 3, "p50_ms": 5.0, "p99_ms": 9.0, "max_ms": 9.0, "runner": "LibNft",
            "first_full_sync_ms": 90.0, "create_to_watch_event_p50_ms": 0.5}
    out = netpol._summary(samples, prog, denied=True, render_ms=30.0, elements=900,
                          seconds=1, rounds=2)
    assert out["ratios"] == {"keepalive": 1.0, "close": 0.9}
    assert out["met"] == {"keepalive": True, "close": False, "programming_p99": True,
                          "denied": True}
