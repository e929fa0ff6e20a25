#!/usr/bin/env python3
"""Render docs/conformance.md: every upstream case of Kubernetes v1.32 that kubesvc ports (the
list in tests/conformance/cases.py) with its status against kubesvc -
pass, fail, not-applicable (and why), skipped (and why), or not ported - from a junit XML
run of tests/conformance.

Usage (from the repository root):
    .venv/bin/python scripts/conformance_report.py            # runs the suite, then renders
    .venv/bin/python scripts/conformance_report.py --junit results.xml   # renders a run

Runs ``python -m pytest tests/conformance --junitxml=...`` unless given ``--junit``; reads
the case list by importing ``tests.conformance.cases``. Exits 0 once the document is written
(``--strict``: exit with pytest's status instead).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conformance.cases import CASES, Case  # noqa: E402

#: The outside clients' suites (issue 24): kubesvc's port of the official Python client's
#: ``kubernetes/e2e_test`` scenarios and the JavaScript client's integration tests (with the
#: kubectl checks beside them), counted in their own section.
CLIENT_SUITES = ("tests/e2e/test_pyclient_port.py", "tests/e2e/test_client_suites.py")


@dataclass(frozen=True)
class Outcome:
    status: str  # pass | fail | skipped
    message: str = ""
    seconds: float = 0.0


def run_suite(junit: Path, extra: list[str]) -> tuple[list[str], int]:
    cmd = [sys.executable, "-m", "pytest", "tests/conformance", *CLIENT_SUITES,
           "-p", "no:cacheprovider",
           "-q", f"--junitxml={junit}", *extra]
    print("+", shlex.join(cmd), flush=True)
    return cmd, subprocess.call(cmd, cwd=ROOT)


def read_junit(path: Path) -> dict[str, Outcome]:
    """Map ``test_module.py::test_function`` to its outcome."""
    out: dict[str, Outcome] = {}
    for tc in ET.parse(path).getroot().iter("testcase"):
        module = (tc.get("classname") or "").replace("/", ".").split(".")[-1]
        if module == "py":  # "tests/conformance/test_x.py" style class names
            module = (tc.get("classname") or "").replace("/", ".").split(".")[-2]
        key = f"{module}.py::{(tc.get('name') or '').split('[')[0]}"
        seconds = float(tc.get("time") or 0)
        bad = tc.find("failure")
        if bad is None:
            bad = tc.find("error")
        skip = tc.find("skipped")
        if bad is not None:
            out[key] = Outcome("fail", _first_lines(bad.get("message") or bad.text or ""),
                               seconds)
        elif skip is not None:
            out[key] = Outcome("skipped", _first_lines(skip.get("message") or ""), seconds)
        else:
            out[key] = Outcome("pass", "", seconds)
    return out


def _first_lines(text: str, limit: int = 400) -> str:
    """The head of a failure message, plus its last line when that says more (a traceback
    ends with the exception that matters)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    head = " ".join(lines[:4])
    if len(lines) > 4 and lines[-1] not in head:
        head = f"{head} … {lines[-1]}"
    return head if len(head) <= limit else head[: limit - 1] + "…"


def status_of(case: Case, outcomes: dict[str, Outcome]) -> tuple[str, str]:
    if case.not_applicable:
        return "not-applicable", case.not_applicable
    if case.not_ported:
        return "not ported", case.not_ported
    got = outcomes.get(case.test)
    if got is None:
        return "not run", f"`{case.test}` is not in the junit results"
    why = got.message
    if case.note:
        why = f"{why} (port: {case.note})" if why else f"port: {case.note}"
    return got.status, why


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(outcomes: dict[str, Outcome], command: str, junit: Path) -> str:
    rows = [(c, *status_of(c, outcomes)) for c in CASES]
    conf = Counter(s for c, s, _ in rows if c.conformance)
    total = Counter(s for _, s, _ in rows)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    order = ["pass", "fail", "skipped", "not-applicable", "not ported", "not run"]

    def summary(counter: Counter[str]) -> str:
        return ", ".join(f"{counter[k]} {k}" for k in order if counter[k])

    lines = [
        "# Upstream conformance: the cases kubesvc ports",
        "",
        "Every case (ginkgo `It`) of Kubernetes v1.32's `test/e2e/network/service.go`,",
        "`dns.go`, `endpointslice.go` and `endpointslicemirroring.go`; the cases of the other",
        "upstream files below that kubesvc's capabilities reach (auth, storage, apps, node,",
        "kubectl), and the integration scenarios ported as cases; and how kubesvc does on",
        "its port in `tests/conformance/` (one test per case, named after it, written anew",
        "against a real `kubesvc up` with agnhost pods). Generated by",
        "`scripts/conformance_report.py` from `tests/conformance/cases.py` and a junit run;",
        "do not edit by hand.",
        "",
        f"- Date: {now}",
        f"- Command: `{command}`",
        f"- Results: `{junit}`",
        f"- Machine: {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}, {'root' if os.geteuid() == 0 else 'not root'}",
        f"- [Conformance] cases ({sum(conf.values())}): {summary(conf)}",
        f"- All cases ({sum(total.values())}): {summary(total)}",
        "",
        "Statuses: **pass** / **fail** - the ported test's result on this run (a failure is",
        "a kubesvc bug or gap, never hidden); **not-applicable** - the case cannot apply to",
        "kubesvc, for the reason given; **skipped** - the test needs something this run did",
        "not have (e.g. root for netns mode); **not ported** - untagged upstream case with no",
        "test here yet. Checks run from the node, where upstream uses an exec pod: in host",
        "mode every pod shares the node's network namespace, so both stand in one place.",
        "Run it as root (as CI does): host-mode Services on ports below 1024 (most of these",
        "cases use port 80, as upstream does) and the netns-mode cases need it.",
        "",
    ]
    for file in dict.fromkeys(c.file for c in CASES):
        lines += [f"## `{file}`", "", "| Case | Tags | Status | Why / notes |",
                  "|---|---|---|---|"]
        for case, status, why in rows:
            if case.file != file:
                continue
            tags = " ".join(f"[{t}]" for t in case.tags)
            test = f"<br>`{case.test}`" if case.test else ""
            lines.append(f"| {_cell(case.name)}{test} | {tags} | **{status}** | "
                         f"{_cell(why)} |")
        lines.append("")
    lines += _client_suites(outcomes)
    return "\n".join(lines)


def _client_suites(outcomes: dict[str, Outcome]) -> list[str]:
    """Pass/fail/skip counts of the outside clients' suites, and each non-pass by name."""
    lines = ["## Outside clients' suites", "",
             "The official Python client's `kubernetes/e2e_test` scenarios (ported as",
             "kubesvc's own tests: the suite ships in no registry package, and code from",
             "fetched repositories is not committed here) and the JavaScript client's",
             "integration tests (`tests/js/integration.mjs`), against one real `kubesvc up`.",
             "", "| Module | Pass | Fail | Skipped | Not passing |", "|---|---|---|---|---|"]
    for path in CLIENT_SUITES:
        module = path.rsplit("/", 1)[-1]
        mine = {k: o for k, o in outcomes.items() if k.startswith(module + "::")}
        if not mine:
            lines.append(f"| `{module}` | - | - | - | not in this run |")
            continue
        count = Counter(o.status for o in mine.values())
        bad = "; ".join(f"`{k.split('::', 1)[1]}`: {o.status} ({_cell(o.message[:160])})"
                        for k, o in mine.items() if o.status != "pass")
        lines.append(f"| `{module}` | {count['pass']} | {count['fail']} | "
                     f"{count['skipped']} | {bad or '-'} |")
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--junit", type=Path, help="render this junit XML instead of running")
    p.add_argument("--output", type=Path, default=ROOT / "docs" / "conformance.md")
    p.add_argument("--strict", action="store_true", help="exit with pytest's status")
    p.add_argument("pytest_args", nargs="*", help="extra arguments for pytest")
    a = p.parse_args(argv)
    code = 0
    if a.junit:
        junit, command = a.junit, f"scripts/conformance_report.py --junit {a.junit}"
    else:
        junit = Path(tempfile.mkdtemp(prefix="conformance-")) / "junit.xml"
        cmd, code = run_suite(junit, a.pytest_args)
        command = shlex.join(["python", *cmd[1:]])
        if not junit.exists():
            print(f"pytest wrote no {junit} (exit {code})", file=sys.stderr)
            return code or 1
    a.output.write_text(render(read_junit(junit), command, junit) + "\n")
    print(f"wrote {a.output}")
    return code if a.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
