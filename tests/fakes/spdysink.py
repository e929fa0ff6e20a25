"""RecordingSink: a SPDY ``FrameSink`` that keeps what the session wrote (split back into
frames by :meth:`frames`) and whether it paused or closed its source."""

from __future__ import annotations

import struct

from kubesvc.runtime.streaming import spdy


class RecordingSink:
    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False
        self.paused = False
        self.pause_calls = 0

    def write(self, data: bytes) -> None:
        self.out += data

    def close(self) -> None:
        self.closed = True

    async def drain(self) -> None:
        return None

    def pause_reading(self) -> None:
        self.paused = True
        self.pause_calls += 1

    def resume_reading(self) -> None:
        self.paused = False

    def frames(self) -> list[tuple[str, int, int, bytes]]:
        """(``"data"`` or the control type's name, stream id or 0, flags, payload)."""
        out, pos, buf = [], 0, bytes(self.out)
        while pos + 8 <= len(buf):
            word, flags_len = struct.unpack_from(">II", buf, pos)
            flags, length = flags_len >> 24, flags_len & 0xFFFFFF
            payload = buf[pos + 8:pos + 8 + length]
            pos += 8 + length
            if word & 0x80000000:
                kind = spdy.FrameType(word & 0xFFFF)
                sid = struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF \
                    if kind not in (spdy.FrameType.SETTINGS, spdy.FrameType.PING) else 0
                out.append((kind.name, sid, flags, payload))
            else:
                out.append(("data", word, flags, payload))
        self.out.clear()
        return out
