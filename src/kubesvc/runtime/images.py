"""The image runner map: how a container's ``image`` + ``command``/``args`` become a host
command line, since there is no container runtime.

Built in: ``registry.k8s.io/e2e-test-images/agnhost:*`` (entrypoint
``python -m kubesvc.runtime.agnhost``; ``/agnhost`` in a container command maps there too),
``registry.k8s.io/pause:*`` (sleeps until signalled) and the debugging tool images
(:func:`tool_mappings`: busybox, alpine, curlimages/curl, nicolaka/netshoot on host tools).
Users add mappings in a YAML file (``<data_dir>/images.yaml`` or ``--image-map FILE``)::

    images:
      - image: "docker.io/library/nginx:*"     # fnmatch pattern on the image reference
        command: ["/usr/sbin/nginx", "-g", "daemon off;"]   # the image's ENTRYPOINT
        args: []                               # the image's CMD (optional)
        paths: {"/usr/sbin/nginx": ["/usr/sbin/nginx"]}     # optional rewrites of command[0]

Resolution follows Docker's ENTRYPOINT/CMD rules: a container ``command`` replaces the
entrypoint (and runs on the host as given, after ``paths`` rewrites), ``args`` replace CMD
(for an image without an entrypoint the args are the command: ``paths`` applies to them).
An image with no mapping still runs when the container gives a ``command``; otherwise
:func:`resolve` raises :class:`ImageNotRunnable`, which the agent reports as the waiting
reason ``ErrImageNeverPull``. Called by the agent; pure apart from reading the YAML file.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import logging
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost"
PAUSE = "registry.k8s.io/pause"

# Waiting reason for images we cannot run. Upstream's reason for "image not present and
# never pulled"; kubesvc never pulls, so it is literally true, and `kubectl get pods` shows it.
REASON_NO_RUNNER = "ErrImageNeverPull"


class ImageNotRunnable(Exception):
    """No runner for the image and no command in the container."""

    reason = REASON_NO_RUNNER


@dataclass(frozen=True, slots=True)
class ImageMapping:
    pattern: str
    command: tuple[str, ...]
    args: tuple[str, ...] = ()
    paths: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def matches(self, image: str) -> bool:
        return any(fnmatch.fnmatchcase(ref, self.pattern) for ref in _refs(image))


def _refs(image: str) -> list[str]:
    """The reference as written plus its normalized forms (docker.io/library/..., :latest)."""
    refs = [image]
    name, tag = split_image(image)
    full = name
    first = name.split("/", 1)[0]
    if "/" not in name:
        full = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        full = f"docker.io/{name}"
    for r in (f"{name}:{tag}", f"{full}:{tag}", full):
        if r not in refs:
            refs.append(r)
    return refs


def split_image(image: str) -> tuple[str, str]:
    """``name, tag`` (tag ``latest`` when absent; a digest counts as the tag)."""
    if "@" in image:
        name, digest = image.split("@", 1)
        return name, digest
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1 :]
    return image, "latest"


def image_id(image: str) -> str:
    """A stable imageID as ``kubectl describe`` shows it: ``name@sha256:...``."""
    name, _ = split_image(image)
    return f"{name}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _mtime(path: Path | None) -> float:
    try:
        return path.stat().st_mtime if path is not None else 0.0
    except OSError:
        return 0.0


def _py(module: str) -> tuple[str, ...]:
    return (sys.executable, "-m", module)


# curlimages/curl's /entrypoint.sh: a first argument that is an option or no command
# gets ``curl`` in front of it, anything else runs as given.
CURL_ENTRYPOINT = ('if [ "${1#-}" != "$1" ] || [ -z "$(command -v "$1")" ]; then '
                   'set -- curl "$@"; fi; exec "$@"')
_BIN_DIRS = ("/bin/", "/usr/bin/", "/sbin/", "/usr/sbin/")


@functools.cache
def _busybox() -> tuple[str, frozenset[str]]:
    """Debian's busybox (``scripts/system-deps.sh`` installs it) and its applets."""
    path = shutil.which("busybox") or ""
    if not path:
        return "", frozenset()
    try:
        out = subprocess.run([path, "--list"], capture_output=True, text=True, timeout=5,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return path, frozenset()
    return path, frozenset(out.split())


def _busybox_paths() -> dict[str, tuple[str, ...]]:
    """``sh`` is busybox's ash, as in the image; other applets run busybox's only where
    the host has no such tool (the host's are the richer ones)."""
    path, applets = _busybox()
    if not path:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for a in applets:
        if a in ("sh", "ash") or shutil.which(a) is None:
            for name in (a, *(d + a for d in _BIN_DIRS)):
                out[name] = (path, a)
    return out


def tool_mappings() -> list[ImageMapping]:
    """The images the standard debugging recipes use, on host tools: ``busybox`` and
    ``alpine`` (Debian's busybox; the host's ``sh`` without it), ``curlimages/curl``
    (the host's curl behind the image's entrypoint) and ``nicolaka/netshoot`` (its CMD
    ``zsh``, or bash where zsh is missing; its tools are the host's)."""
    bb = _busybox_paths()
    out = []
    for pattern in ("docker.io/library/busybox", "registry.k8s.io/e2e-test-images/busybox",
                    "docker.io/library/alpine"):
        # busybox and alpine have no entrypoint: their args are the command.
        cmd = ("/bin/sh",) if "alpine" in pattern else ("sh",)
        out += [ImageMapping(f"{pattern}:*", (), cmd, bb), ImageMapping(pattern, (), cmd, bb)]
    if shutil.which("curl"):
        entry = ("/bin/sh", "-c", CURL_ENTRYPOINT, "/entrypoint.sh")
        out += [ImageMapping(p, entry, ("curl",)) for p in
                ("docker.io/curlimages/curl:*", "docker.io/curlimages/curl")]
    shell = "zsh" if shutil.which("zsh") else "bash" if shutil.which("bash") else ""
    if shell:
        paths: dict[str, tuple[str, ...]] = (
            {} if shell == "zsh" else {"zsh": ("bash",), "/bin/zsh": ("bash",)})
        out += [ImageMapping(p, (), ("zsh",), paths) for p in
                ("docker.io/nicolaka/netshoot:*", "docker.io/nicolaka/netshoot")]
    return out


def builtin_mappings() -> list[ImageMapping]:
    agnhost = _py("kubesvc.runtime.agnhost")
    pause = (*_py("kubesvc.runtime.agnhost"), "pause")
    return [
        ImageMapping(f"{AGNHOST}:*", agnhost, (), {"/agnhost": agnhost, "agnhost": agnhost}),
        ImageMapping(AGNHOST, agnhost, (), {"/agnhost": agnhost, "agnhost": agnhost}),
        ImageMapping(f"{PAUSE}:*", pause, (), {"/pause": pause}),
        ImageMapping(PAUSE, pause, (), {"/pause": pause}),
        *tool_mappings(),
    ]


def load_mappings(path: Path) -> list[ImageMapping]:
    """Read a user mapping file; a missing file is an empty map. Raises ValueError."""
    if not path.exists():
        return []
    doc: Any = yaml.safe_load(path.read_text()) or {}
    entries = doc.get("images", []) if isinstance(doc, dict) else doc
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list under 'images'")
    out: list[ImageMapping] = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not e.get("image"):
            raise ValueError(f"{path}: images[{i}] needs an 'image' pattern")
        cmd = e.get("command") or []
        if isinstance(cmd, str):
            cmd = cmd.split()
        args = e.get("args") or []
        paths = {str(k): tuple(str(x) for x in (v if isinstance(v, list) else str(v).split()))
                 for k, v in (e.get("paths") or {}).items()}
        out.append(ImageMapping(str(e["image"]), tuple(str(c) for c in cmd),
                                tuple(str(a) for a in args), paths))
    return out


class ImageMap:
    """User mappings first (so they can override the built-ins), then the built-ins. Built
    with :meth:`from_file`, the file is re-read when it changes (no agent restart needed)."""

    def __init__(self, mappings: list[ImageMapping] | None = None) -> None:
        self.mappings = [*(mappings or []), *builtin_mappings()]
        self.path: Path | None = None
        self._mtime = 0.0

    @classmethod
    def from_file(cls, path: Path | None) -> ImageMap:
        m = cls(load_mappings(path) if path is not None else [])
        m.path = path
        m._mtime = _mtime(path)
        return m

    def _refresh(self) -> None:
        if self.path is None:
            return
        mtime = _mtime(self.path)
        if mtime != self._mtime:
            self._mtime = mtime
            try:
                self.mappings = [*load_mappings(self.path), *builtin_mappings()]
            except (OSError, ValueError, yaml.YAMLError) as exc:
                log.warning("image map %s not reloaded: %s", self.path, exc)

    def find(self, image: str) -> ImageMapping | None:
        self._refresh()
        return next((m for m in self.mappings if m.matches(image)), None)

    def resolve(self, container: dict[str, Any]) -> list[str]:
        """The host argv for a container spec (before $(VAR) expansion)."""
        image = str(container.get("image") or "")
        command = [str(c) for c in container.get("command") or []]
        args = [str(a) for a in container.get("args") or []]
        mapping = self.find(image) if image else None
        if mapping is None:
            if command:
                return command + args
            raise ImageNotRunnable(
                f'image "{image}" has no runner in kubesvc (there is no container runtime): '
                "map it to a host command in images.yaml (--image-map), or give the "
                "container a command"
            )
        if command:
            head = mapping.paths.get(command[0])
            return ([*head, *command[1:]] if head is not None else command) + args
        if not mapping.command:
            if args or mapping.args:
                argv = args or list(mapping.args)
                head = mapping.paths.get(argv[0])  # the args are the command here
                return [*head, *argv[1:]] if head is not None else argv
            raise ImageNotRunnable(
                f'image "{image}" is mapped without a command and the container has none'
            )
        return [*mapping.command, *(args if args else mapping.args)]
