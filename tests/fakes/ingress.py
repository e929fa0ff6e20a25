"""RecordingPlane: a fake ingress :class:`~kubesvc.ingress.haproxy.DataPlane` that keeps
every configuration applied (and can be told to refuse the next ones)."""

from __future__ import annotations


class RecordingPlane:
    def __init__(self) -> None:
        self.applied: list[tuple[str, dict[str, bytes]]] = []
        self.refuse = ""
        self.closed = False

    async def apply(self, config: str, files: dict[str, bytes]) -> None:
        if self.refuse:
            raise RuntimeError(self.refuse)
        self.applied.append((config, dict(files)))

    async def close(self) -> None:
        self.closed = True
