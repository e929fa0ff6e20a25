"""FakeNft: records nft transactions instead of running them (the NftRunner fake)."""

from __future__ import annotations


class FakeNft:
    def __init__(self) -> None:
        self.applied: list[str] = []
        self.fail_next = False
        self.closed = False

    async def apply(self, text: str) -> None:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("nft failed (fake)")
        self.applied.append(text)

    async def run(self, *args: str) -> str:
        return ""

    async def close(self) -> None:
        self.closed = True
