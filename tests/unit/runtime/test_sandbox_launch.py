"""The sandbox launcher run directly: as root (a mount namespace; the capability bounding set
cut to the plan's, so a root container cannot reach the agent's root through /proc), and as
an unprivileged user in a user namespace (volumes, read-only system dirs, protected paths
masked, its own hostname); a container run as another uid still dies with its agent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesvc.runtime.sandbox.manager import LAUNCHER
from kubesvc.runtime.sandbox.mountplan import VolumeBind, build_plan
from kubesvc.runtime.sandbox.security import CAPS, DEFAULT_CAPS

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="needs Linux namespaces"),
    pytest.mark.skipif(os.geteuid() != 0, reason="runs the launcher as root and as nobody"),
]
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory nobody can reach (pytest's tmp_path is under a 0700 one)."""
    d = Path(tempfile.mkdtemp(prefix="kubesvc-userns-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _userns_allowed() -> bool:
    r = subprocess.run(["unshare", "-U", "true"], capture_output=True,
                       preexec_fn=lambda: os.setuid(65534))
    return r.returncode == 0


def test_root_container_has_only_the_default_capabilities(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    keep = sorted(CAPS[c] for c in DEFAULT_CAPS)
    plan = build_plan(root=str(tmp_path / "root"), argv=["sh"], env={"PATH": "/usr/bin:/bin"},
                      volumes=[], etc_files={}, protected=[str(tmp_path)], keep_caps=keep)
    (tmp_path / "plan.json").write_text(json.dumps(plan.to_json()))
    r = subprocess.run([sys.executable, "-I", "-S", LAUNCHER, str(tmp_path / "plan.json"), "--",
                        "sh", "-c", "grep CapBnd /proc/self/status; id -u; "
                        "ls /proc/1/root/ >/dev/null 2>&1 && echo HOST-ROOT || echo no-host"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    bnd = int(r.stdout.split()[1], 16)
    assert bnd == sum(1 << c for c in keep)
    assert r.stdout.split()[2:] == ["0", "no-host"]


@pytest.mark.skipif(not os.path.exists(SYSTEM_PYTHON), reason=f"needs {SYSTEM_PYTHON}")
def test_unprivileged_user_namespace(public_dir: Path) -> None:
    if not _userns_allowed():
        pytest.skip("unprivileged user namespaces are not allowed here")
    tmp_path = public_dir
    for d in ("root", "vol", "secret"):
        (tmp_path / d).mkdir(mode=0o755)
    (tmp_path / "vol" / "f").write_text("hello\n")
    (tmp_path / "secret" / "token").write_text("cluster-secret\n")
    launcher = tmp_path / "launch.py"
    shutil.copy(LAUNCHER, launcher)
    launcher.chmod(0o644)
    plan = build_plan(root=str(tmp_path / "root"), argv=["sh"], env={"PATH": "/usr/bin:/bin"},
                      volumes=[VolumeBind(str(tmp_path / "vol"), "/data", True),
                               VolumeBind(str(tmp_path), "/all", True)],
                      etc_files={}, protected=[str(tmp_path / "secret")], userns=True,
                      hostname="pod-x")
    doc = plan.to_json()
    # What nobody cannot read (root's Python and checkout) is not in an unprivileged plan.
    doc["mounts"] = [m for m in doc["mounts"] if not m["source"].startswith(("/root", "/work"))]
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    (tmp_path / "plan.json").chmod(0o644)

    def nobody() -> None:
        os.setgid(65534)
        os.setuid(65534)

    r = subprocess.run([SYSTEM_PYTHON, "-I", "-S", str(launcher), str(tmp_path / "plan.json"),
                        "--", "sh", "-c", "id -u; cat /data/f; cat /all/secret/token || "
                        "echo masked; touch /usr/x 2>/dev/null || echo ro; hostname"],
                       capture_output=True, text=True, preexec_fn=nobody, timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["65534", "hello", "masked", "ro", "pod-x"]


def test_a_container_run_as_another_user_still_dies_with_its_agent(tmp_path: Path) -> None:
    """Changing uid clears the parent-death signal; the launcher sets it again."""
    (tmp_path / "root").mkdir()
    plan = build_plan(root=str(tmp_path / "root"), argv=["sleep"],
                      env={"PATH": "/usr/bin:/bin"}, volumes=[], etc_files={},
                      protected=[], uid=4321, gid=4321)
    (tmp_path / "plan.json").write_text(json.dumps(plan.to_json()))
    agent = (
        "import os, subprocess, sys, time\n"
        "from functools import partial\n"
        "from kubesvc.runtime.process import die_with_parent\n"
        f"p = subprocess.Popen([sys.executable, '-I', '-S', {LAUNCHER!r}, "
        f"{str(tmp_path / 'plan.json')!r}, '--', 'sleep', '60'], "
        "preexec_fn=partial(die_with_parent, os.getpid()), start_new_session=True)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", agent], stdout=subprocess.PIPE, text=True,
                            env={**os.environ})
    assert proc.stdout is not None
    child = int(proc.stdout.readline())

    def uid_of(pid: int) -> int | None:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("Uid:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    deadline = time.monotonic() + 10
    while uid_of(child) != 4321 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uid_of(child) == 4321, "the container never ran as uid 4321"
    proc.kill()
    proc.wait()
    proc.stdout.close()
    deadline = time.monotonic() + 5
    while uid_of(child) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    gone = uid_of(child) is None
    if not gone:
        os.kill(child, 9)
    assert gone, "the container outlived its agent"
