"""Switching network namespaces with ``setns(2)``, through libc (``os.setns`` needs
Python 3.12). ``setns`` moves the calling thread alone: the node runtime makes sockets
inside a namespace from a worker thread, the nftables proxy keeps its libnftables thread in
the node's namespace, and ``kubesvc agent`` moves its whole (still single-threaded)
process. Imports nothing of kubesvc, so every layer may use it."""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNET = 0x40000000


def setns(fd: int, label: str = "") -> None:
    """Move the calling thread into the network namespace open at ``fd``; ``label`` names
    it in the error."""
    libc = ctypes.CDLL(None, use_errno=True)  # the C library Python itself is linked to
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns({label}): {os.strerror(err)}" if label
                      else os.strerror(err))


def enter_netns(name: str) -> None:
    """Move the calling thread into the named network namespace (``/run/netns/<name>``, or
    a path)."""
    fd = os.open(name if name.startswith("/") else f"/run/netns/{name}", os.O_RDONLY)
    try:
        setns(fd, name)
    finally:
        os.close(fd)
