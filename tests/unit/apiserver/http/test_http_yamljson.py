"""YAML bodies to JSON values (kubesvc.apiserver.http.yamljson): go-yaml's alias limit,
YAMLToJSON's key and tag conversions, no recursion on deep documents."""

from __future__ import annotations

import resource
import time
from typing import Any

import pytest

from kubesvc.apiserver.http import yamljson

BOMB = b"a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + b"".join(
    f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n".encode()
    for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_alias_bomb_is_refused_fast_and_small() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    with pytest.raises(yamljson.YAMLToJSONError, match="document contains excessive aliasing"):
        yamljson.load(BOMB)
    assert time.monotonic() - start < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB


def test_moderate_aliasing_is_expanded_into_copies() -> None:
    out = yamljson.load(b"x: &x {a: [1, 2]}\ny: *x\nz:\n  <<: *x\n  b: 3\n")
    assert out == {"x": {"a": [1, 2]}, "y": {"a": [1, 2]}, "z": {"b": 3, "a": [1, 2]}}
    assert out["x"] is not out["y"]  # a later change to one copy cannot touch the other


def test_merge_keys_lose_to_explicit_keys() -> None:
    out = yamljson.load(b"base: &b {a: 1, b: 2}\nm:\n  a: 9\n  <<: [*b]\n")
    assert out["m"] == {"a": 9, "b": 2}


@pytest.mark.parametrize(("doc", "value"), [
    (b"{1: a, true: b, 1.5: c, -2: d}", {"1": "a", "true": "b", "1.5": "c", "-2": "d"}),
    (b"a: !!binary aGVsbG8=", {"a": "hello"}),
    (b"a: 99999999999999999999999", {"a": 1e23}),
    (b"a: 18446744073709551615", {"a": 18446744073709551615}),
    (b"t: 2024-01-01T00:00:00Z", {"t": "2024-01-01T00:00:00Z"}),
    (b"t: !!timestamp 2024-01-01", {"t": "2024-01-01"}),
    (b"a: !custom x", {"a": "x"}),
    (b"a: 1\n---\nb: 2\n", {"a": 1}),
    (b"", None),
    (b"a: 0x10\nb: yes\nc: ~", {"a": 16, "b": True, "c": None}),
])
def test_conversions(doc: bytes, value: Any) -> None:
    assert yamljson.load(doc) == value


@pytest.mark.parametrize(("doc", "message"), [
    (b"a: .nan", "json: unsupported value: NaN"),
    (b"a: -.inf", "json: unsupported value: -Inf"),
    (b"~: 1", "unsupported map key"),
    (b"s: !!set {a}", "unsupported tag !!set"),
    (b"s: !!omap [{a: 1}]", "unsupported tag !!omap"),
    (b"s: !!python/object:os.system x", "unsupported tag"),
    (b"a: !!binary '***'", "invalid base64"),
    (b"a: !!int abc", "cannot decode"),
    (b"a: !!int ''", "cannot decode"),  # PyYAML's constructor raises IndexError here
    (b"a: !!float x", "cannot decode"),
    (b"&a [*a]", "unknown anchor"),
    (b"[" * 500, "exceeded max depth"),
    (b"a:\n" + b"".join(b"  " * i + b"- \n" for i in range(1, 300)), "exceeded max depth"),
])
def test_refusals(doc: bytes, message: str) -> None:
    with pytest.raises(yamljson.YAMLToJSONError, match=message.replace("[", r"\[")):
        yamljson.load(doc)


def test_repeated_keys_keep_the_last_and_are_reported_as_go_yaml_strict_does() -> None:
    dups: list[str] = []
    out = yamljson.load(b"a: 1\nm:\n  x: 1\n  x: 2\n  <<: {x: 3, y: 4}\na: 5\n", dups)
    assert out == {"a": 5, "m": {"x": 2, "y": 4}}
    assert dups == ['line 4: key "x" already set in map', 'line 6: key "a" already set in map']
    # merged keys never count as repeats of the mapping's own keys
    dups = []
    assert yamljson.load(b"<<: {x: 1}\nx: 2\n", dups) == {"x": 2} and dups == []
