"""The runners of nft transactions: :class:`SubprocessNft` feeds each transaction to
``nft -f -`` (inside a network namespace when given), :class:`~.libnft.LibNft` to one
persistent libnftables context; either way the kernel applies it atomically.
:func:`default_runner` picks LibNft when the library loads and falls back to the
subprocess. ``NftRunner`` is the seam :class:`~.backend.NftablesBackend` calls; the fake in
``tests/fakes/nft.py`` records transactions instead."""

from __future__ import annotations

import asyncio
import shutil
from typing import Protocol

from kubesvc import errors


class NftRunner(Protocol):
    async def apply(self, text: str) -> None: ...

    async def run(self, *args: str) -> str: ...

    async def close(self) -> None: ...


class SubprocessNft:
    def __init__(self, *, netns: str = "", nft: str = "") -> None:
        self.netns = netns
        self.nft = nft or shutil.which("nft") or "/usr/sbin/nft"

    def _argv(self, *args: str) -> list[str]:
        argv = [self.nft, *args]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        return argv

    async def run(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            *self._argv(*args), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise errors.InternalError(f"nft {' '.join(args)}: {err.decode().strip()}")
        return out.decode()

    async def apply(self, text: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self._argv("-f", "-"), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate(text.encode())
        if proc.returncode != 0:
            raise errors.InternalError(f"nft -f failed: {err.decode().strip()}")

    async def close(self) -> None:
        """Nothing to release: every call is its own process."""


def default_runner(*, netns: str = "") -> NftRunner:
    """A :class:`~.libnft.LibNft` when libnftables loads, else a :class:`SubprocessNft`.
    ``netns``: a name under /run/netns to program instead of the caller's namespace (an
    agent started inside its node's namespace passes none)."""
    from kubesvc.proxy.nftables import libnft

    if libnft.available():
        return libnft.LibNft(netns=netns)
    return SubprocessNft(netns=netns)
