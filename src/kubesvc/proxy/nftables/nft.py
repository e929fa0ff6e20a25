"""The one module that runs ``nft``: feeds a transaction to ``nft -f -`` (inside a network
namespace when given), so the kernel applies it atomically. ``NftRunner`` is the seam; the
fake in ``tests/fakes/nft.py`` records transactions instead."""

from __future__ import annotations

import asyncio
import shutil
from typing import Protocol

from kubesvc import errors


class NftRunner(Protocol):
    async def apply(self, text: str) -> None: ...

    async def run(self, *args: str) -> str: ...


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
