"""``kubesvc exec``: finds the namespace of client / node-N / N in DATA_DIR/netns.json and
says clearly when the cluster or the node is not there (running the command itself is
covered by tests/e2e/test_netns.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubesvc.cli.commands import run
from kubesvc.cli.netns import Topology


def test_targets_resolve(tmp_path: Path) -> None:
    topo = Topology.plan(tmp_path, 2)
    assert topo.netns_of("client") == topo.client_netns
    assert topo.netns_of("node-2") == topo.nodes[1].netns == topo.netns_of("2")
    with pytest.raises(KeyError, match="have: client, node-1, node-2"):
        topo.netns_of("node-3")


def test_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["exec", "--data-dir", str(tmp_path), "node-1", "--", "true"]) == 1
    assert "netns.json not found" in capsys.readouterr().err
    Topology.plan(tmp_path, 1).save(tmp_path / "netns.json")
    assert run(["exec", "--data-dir", str(tmp_path), "node-7", "--", "true"]) == 1
    assert "no node 'node-7'" in capsys.readouterr().err
    assert run(["exec", "--data-dir", str(tmp_path), "node-1"]) == 2
    assert "no command given" in capsys.readouterr().err
