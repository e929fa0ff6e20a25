"""Runner selection by name, for the CLI (``--runtime process|simulated``)."""

from __future__ import annotations

from pathlib import Path

from kubesvc.runtime.process import ProcessRunner
from kubesvc.runtime.simulated import SimulatedRunner
from kubesvc.runtime.types import PodRunner

RUNNERS = ("process", "simulated")


def make_runner(name: str, *, data_dir: Path) -> PodRunner:
    """``process`` (host processes, logs under ``data_dir``) or ``simulated`` (like kwok)."""
    if name == "process":
        return ProcessRunner(data_dir)
    if name == "simulated":
        return SimulatedRunner()
    raise ValueError(f"unknown runtime {name!r}; choose one of: {', '.join(RUNNERS)}")
