"""``kubesvc exec NODE -- CMD...``: run a command inside one network namespace of a netns
cluster started by ``kubesvc up --network netns`` — ``client`` (the outside machine), a node
(``node-2`` or just ``2``) — with ``ip netns exec``, passing the exit code through.

Reads the topology ``kubesvc up`` saved as ``DATA_DIR/netns.json``
(:class:`kubesvc.cli.netns.Topology`). Called by :mod:`.commands`; replaces this process
with ``ip`` (nothing of kubesvc stays in between the command and its caller).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from kubesvc.cli.netns import Topology


def run_exec(data_dir: Path, target: str, argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("kubesvc exec: no command given (kubesvc exec NODE -- CMD...)", file=sys.stderr)
        return 2
    path = data_dir / "netns.json"
    try:
        topo = Topology.load(path)
        netns = topo.netns_of(target)
    except FileNotFoundError:
        print(f"kubesvc exec: {path} not found: is `kubesvc up --network netns "
              f"--data-dir {data_dir}` running?", file=sys.stderr)
        return 1
    except KeyError as exc:
        print(f"kubesvc exec: {exc.args[0]}", file=sys.stderr)
        return 1
    ip = shutil.which("ip") or "/usr/sbin/ip"
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(ip, [ip, "netns", "exec", netns, *argv])
    except OSError as exc:
        print(f"kubesvc exec: {ip}: {exc}", file=sys.stderr)
        return 127
    raise AssertionError("unreachable")
