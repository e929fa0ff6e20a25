"""What a dead container leaves behind: :func:`kill_leftovers` kills the rest of its session
(and nothing when the pid now names another process); :func:`die_with_parent` makes a child
die with the process that started it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from kubesvc.runtime.process import kill_leftovers, proc_start_ticks


def _alive(pid: int) -> bool:
    return proc_start_ticks(pid) is not None


def _wait_dead(pid: int, timeout: float = 5) -> None:
    end = time.monotonic() + timeout
    while _alive(pid):
        assert time.monotonic() < end, f"{pid} still alive"
        time.sleep(0.02)


def test_kill_leftovers_kills_the_rest_of_a_dead_leaders_session() -> None:
    leader = subprocess.Popen(["sh", "-c", "sleep 300 & echo $!; exec sleep 301"],
                              stdout=subprocess.PIPE, start_new_session=True)
    assert leader.stdout is not None
    child = int(leader.stdout.readline())
    leader.stdout.close()
    ticks = proc_start_ticks(leader.pid)
    # A live leader whose recorded start time differs is another process: left alone.
    assert kill_leftovers(leader.pid, (ticks or 0) + 1) == 0
    assert _alive(child)
    leader.kill()
    leader.wait()
    assert _alive(child)  # orphaned, as after the agent took its leader with it
    assert kill_leftovers(leader.pid, ticks) == 1
    _wait_dead(child)


def test_die_with_parent_ends_the_child_when_its_parent_dies() -> None:
    # A middle process starts a grandchild with die_with_parent, prints its pid, exits.
    code = ("import subprocess, os, sys, time; from functools import partial\n"
            "from kubesvc.runtime.process import die_with_parent\n"
            "p = subprocess.Popen(['sleep', '300'], preexec_fn=partial(die_with_parent, "
            "os.getpid()))\n"
            "print(p.pid, flush=True); time.sleep(0.2)\n")
    mid = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                           env={**os.environ})
    assert mid.stdout is not None
    grandchild = int(mid.stdout.readline())
    mid.stdout.close()
    assert mid.wait(10) == 0
    _wait_dead(grandchild)
