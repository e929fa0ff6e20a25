"""Storage codec helpers: string interning of objects kept by informers."""

from __future__ import annotations

import orjson

from kubesvc.apiserver.registry.codec import intern_strings


def test_intern_strings_shares_short_values_and_keeps_content() -> None:
    long = "x" * 500
    raw = orjson.dumps({"status": {"conditions": [{"type": "Ready", "status": "True"}],
                                   "podIPs": [{"ip": "10.0.0.1"}], "phase": "Running"},
                        "metadata": {"annotations": {"big": long}, "labels": ["a", 1]}})
    a, b = orjson.loads(raw), orjson.loads(raw)
    assert a["status"]["phase"] is not b["status"]["phase"]  # orjson makes new values
    intern_strings(a)
    intern_strings(b)
    assert a == b == orjson.loads(raw)
    assert a["status"]["phase"] is b["status"]["phase"]
    assert a["status"]["conditions"][0]["status"] is b["status"]["conditions"][0]["status"]
    assert a["metadata"]["labels"][0] is b["metadata"]["labels"][0]  # inside lists too
    assert a["metadata"]["annotations"]["big"] is not b["metadata"]["annotations"]["big"]
