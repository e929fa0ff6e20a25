"""SPDY/3.1 as Kubernetes speaks it (moby/spdystream, the ``httpstream/spdy`` package of
apimachinery): frame encoding, the zlib header blocks with the SPDY/3 dictionary, and a
stream-multiplexing session over any byte transport.

The session is transport-neutral: it is fed bytes (``data_received``/``connection_lost``)
and writes through a :class:`FrameSink` — a hijacked TCP connection after ``Upgrade:
SPDY/3.1`` or a WebSocket carrying SPDY in binary messages (:mod:`.transport` builds both).
Flow control is spdystream's: windows are neither enforced nor announced (WINDOW_UPDATE and
SETTINGS are read and ignored); back-pressure is TCP's — a stream whose reader falls behind
pauses reading the whole connection, as a blocked spdystream frame worker does.

Called by :mod:`.portforward` (and the SPDY exec handler); calls nothing of kubesvc.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping
from enum import IntEnum
from typing import Protocol

VERSION = 3

# The SPDY/3 header-compression dictionary (draft 3, section 2.6.10.1): length-prefixed
# words, then a run of status codes, reason phrases, dates and media types.
_DICT_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base "
    "content-encoding content-language content-length content-location content-md5 "
    "content-range content-type date etag expect expires from host if-match if-modified-since "
    "if-none-match if-range if-unmodified-since last-modified location max-forwards pragma "
    "proxy-authenticate proxy-authorization range referer retry-after server te trailer "
    "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status"
).split()
_DICT_WORDS += ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive",
                "origin"]
_DICT_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504"
    "505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 "
    "Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 "
    "Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, "
    "Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _DICT_WORDS) \
    + _DICT_TAIL.encode()


class FrameType(IntEnum):
    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(IntEnum):
    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    UNSUPPORTED_VERSION = 4
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7
    STREAM_IN_USE = 8
    STREAM_ALREADY_CLOSED = 9
    INVALID_CREDENTIALS = 10
    FRAME_TOO_LARGE = 11


FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
MAX_DATA = 0xFFFFFF
DATA_CHUNK = 1 << 17  # bytes per DATA frame we write (Go reads up to 16 MiB)
_HDR = struct.Struct(">IBBH")  # first word, flags, 24-bit length as 8 + 16 bits
_U32 = struct.Struct(">I")
_U32x2 = struct.Struct(">II")


class SpdyProtocolError(Exception):
    """The peer broke the framing (bad version, undecodable header block, ...)."""


Headers = Mapping[str, str]


def encode_header_block(headers: Headers) -> bytes:
    """The uncompressed name/value block; names are lowercased as Go's framer does."""
    out = [_U32.pack(len(headers))]
    for name, value in headers.items():
        n, v = name.lower().encode(), value.encode()
        out += (_U32.pack(len(n)), n, _U32.pack(len(v)), v)
    return b"".join(out)


def decode_header_block(raw: bytes) -> dict[str, str]:
    """Names to values (several values of one name stay NUL-separated, as on the wire)."""
    try:
        (count,), pos, out = _U32.unpack_from(raw, 0), 4, {}
        for _ in range(count):
            (ln,) = _U32.unpack_from(raw, pos)
            name = raw[pos + 4:pos + 4 + ln].decode()
            pos += 4 + ln
            (lv,) = _U32.unpack_from(raw, pos)
            out[name] = raw[pos + 4:pos + 4 + lv].decode()
            pos += 4 + lv
    except (struct.error, UnicodeDecodeError) as exc:
        raise SpdyProtocolError(f"invalid header block: {exc}") from exc
    return out


class HeaderCodec:
    """One zlib stream per direction for the life of the connection (SPDY/3 2.6.10)."""

    def __init__(self) -> None:
        self._c = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                   zdict=DICTIONARY)
        self._d = zlib.decompressobj(zdict=DICTIONARY)

    def compress(self, headers: Headers) -> bytes:
        return self._c.compress(encode_header_block(headers)) + self._c.flush(zlib.Z_SYNC_FLUSH)

    def decompress(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._d.decompress(block)
        except zlib.error as exc:
            raise SpdyProtocolError(f"header decompression failed: {exc}") from exc
        return decode_header_block(raw)


def control_frame(kind: int, flags: int, payload: bytes) -> bytes:
    n = len(payload)
    return _HDR.pack(0x80000000 | (VERSION << 16) | kind, flags, n >> 16, n & 0xFFFF) + payload


def data_frame(stream_id: int, data: bytes, *, fin: bool = False) -> bytes:
    n = len(data)
    return _HDR.pack(stream_id & 0x7FFFFFFF, FLAG_FIN if fin else 0, n >> 16, n & 0xFFFF) + data


def syn_stream(codec: HeaderCodec, stream_id: int, headers: Headers, *, fin: bool = False,
               priority: int = 0) -> bytes:
    body = _U32x2.pack(stream_id, 0) + bytes(((priority & 7) << 5, 0)) + codec.compress(headers)
    return control_frame(FrameType.SYN_STREAM, FLAG_FIN if fin else 0, body)


def syn_reply(codec: HeaderCodec, stream_id: int, headers: Headers, *, fin: bool = False) -> bytes:
    return control_frame(FrameType.SYN_REPLY, FLAG_FIN if fin else 0,
                         _U32.pack(stream_id) + codec.compress(headers))


def rst_stream(stream_id: int, status: int) -> bytes:
    return control_frame(FrameType.RST_STREAM, 0, _U32x2.pack(stream_id, status))


def ping(ping_id: int) -> bytes:
    return control_frame(FrameType.PING, 0, _U32.pack(ping_id))


def goaway(last_good: int, status: int = 0) -> bytes:
    return control_frame(FrameType.GOAWAY, 0, _U32x2.pack(last_good, status))


def settings(values: Iterable[tuple[int, int]]) -> bytes:
    items = list(values)
    return control_frame(FrameType.SETTINGS, 0, _U32.pack(len(items)) + b"".join(
        _U32x2.pack(sid & 0xFFFFFF, v) for sid, v in items))


def window_update(stream_id: int, delta: int) -> bytes:
    return control_frame(FrameType.WINDOW_UPDATE, 0, _U32x2.pack(stream_id, delta))


class FrameHandler(Protocol):
    def on_data(self, stream_id: int, flags: int, data: bytes) -> None: ...
    def on_control(self, kind: int, flags: int, payload: bytes) -> None: ...


class FrameParser:
    """Incremental splitter of the byte stream into frames."""

    def __init__(self, handler: FrameHandler) -> None:
        self._h = handler
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        pos, end = 0, len(buf)
        try:
            while end - pos >= 8:
                word, flags, hi, lo = _HDR.unpack_from(buf, pos)
                length = (hi << 16) | lo
                if end - pos - 8 < length:
                    break
                payload = bytes(buf[pos + 8:pos + 8 + length])
                pos += 8 + length
                if word & 0x80000000:
                    if (word >> 16) & 0x7FFF != VERSION:
                        raise SpdyProtocolError(f"unsupported SPDY version {(word >> 16) & 0x7FFF}")
                    self._h.on_control(word & 0xFFFF, flags, payload)
                else:
                    self._h.on_data(word, flags, payload)
        finally:
            del buf[:pos]


class FrameSink(Protocol):
    """Where a session's bytes go, and how it throttles its source."""

    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...
    async def drain(self) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...


READ_HIGH = 1 << 20  # a stream buffering more than this pauses the connection
READ_LOW = 1 << 18


class SpdyStream:
    """One stream the peer opened. Reads return chunks (``b""`` at FIN or reset)."""

    def __init__(self, session: SpdySession, stream_id: int, headers: dict[str, str],
                 *, remote_fin: bool) -> None:
        self.session, self.id, self.headers = session, stream_id, headers
        self.replied = self.local_closed = self.was_reset = False
        self.remote_closed = remote_fin
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._pausing = False

    def __repr__(self) -> str:
        return f"<SpdyStream {self.id} {self.headers}>"

    def reply(self, headers: Headers | None = None, *, fin: bool = False) -> None:
        if not self.replied and not self.was_reset:
            self.replied = True
            self.session._send(syn_reply(self.session.codec, self.id, headers or {}, fin=fin))
            if fin:
                self.local_closed = True

    def write(self, data: bytes) -> None:
        """Queue data (no-op once closed or reset: the peer is gone)."""
        if self.local_closed or self.was_reset or self.session.closed:
            return
        for off in range(0, len(data), DATA_CHUNK):
            self.session._send(data_frame(self.id, data[off:off + DATA_CHUNK]))

    async def drain(self) -> None:
        await self.session.sink.drain()

    def close(self) -> None:
        """Half-close: a DATA frame with FIN (spdystream's Stream.Close)."""
        if not (self.local_closed or self.was_reset or self.session.closed):
            self.local_closed = True
            self.session._send(data_frame(self.id, b"", fin=True))
            self.session._maybe_forget(self)

    def reset(self, status: int = RstStatus.CANCEL) -> None:
        if not (self.was_reset or self.session.closed):
            self.session._send(rst_stream(self.id, status))
        self._on_reset()

    async def read(self) -> bytes:
        while not self._chunks:
            if self.remote_closed or self.was_reset:
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._pausing and self._buffered <= READ_LOW:
            self._pausing = False
            self.session._unpause()
        return chunk

    async def read_all(self) -> bytes:
        out = []
        while chunk := await self.read():
            out.append(chunk)
        return b"".join(out)

    # called by the session
    def _on_data(self, data: bytes, fin: bool) -> None:
        if data and not self.was_reset:
            self._chunks.append(data)
            self._buffered += len(data)
            if not self._pausing and self._buffered > READ_HIGH:
                self._pausing = True
                self.session._pause()
        if fin:
            self.remote_closed = True
        self._wake()

    def _on_reset(self) -> None:
        self.was_reset = self.remote_closed = self.local_closed = True
        if self._pausing:
            self._pausing = False
            self.session._unpause()
        self._chunks.clear()
        self._buffered = 0
        self.session._forget(self)
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class SpdySession:
    """The server side of a SPDY/3.1 connection: the peer (client) opens odd streams.

    ``on_stream(stream)`` is called for each SYN_STREAM; it may raise ``ValueError`` to
    reject the stream (RST_STREAM CANCEL, as kubelet resets a stream with bad headers) or
    call :meth:`SpdyStream.reply` now or later. ``wait_closed()`` returns when the transport
    is gone.
    """

    def __init__(self, sink: FrameSink, on_stream: Callable[[SpdyStream], None]) -> None:
        self.sink, self.on_stream = sink, on_stream
        self.codec = HeaderCodec()
        self.parser = FrameParser(self)
        self.streams: dict[int, SpdyStream] = {}
        self.last_id = 0
        self.closed = self.gone_away = False
        self.error: str | None = None
        self._pauses = 0
        self._loop = asyncio.get_running_loop()
        self._closed = self._loop.create_future()
        self.last_active = self._loop.time()

    # transport side
    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.last_active = self._loop.time()
        try:
            self.parser.feed(data)
        except SpdyProtocolError as exc:
            self.error = str(exc)
            self._send(goaway(self.last_id, 1))
            self.sink.close()
            self.connection_lost()

    def connection_lost(self) -> None:
        if self.closed:
            return
        self.closed = True
        for stream in list(self.streams.values()):
            stream._on_reset()
        if not self._closed.done():
            self._closed.set_result(None)

    async def wait_closed(self, idle_timeout: float | None = None) -> None:
        """Until the transport is gone; with ``idle_timeout``, close the connection after
        that long without a frame either way (kubelet's streaming idle timeout)."""
        while idle_timeout is not None and not self.closed:
            left = self.last_active + idle_timeout - self._loop.time()
            if left <= 0:
                self.close()
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._closed), left)
        await asyncio.shield(self._closed)

    def close(self) -> None:
        """GOAWAY, then close the transport (spdystream's Close with no streams left)."""
        if not self.closed:
            self._send(goaway(self.last_id, 0))
            self.sink.close()
            self.connection_lost()

    # frames in
    def on_data(self, stream_id: int, flags: int, data: bytes) -> None:
        stream = self.streams.get(stream_id)
        if stream is not None and stream.replied:  # spdystream drops data before the reply
            stream._on_data(data, bool(flags & FLAG_FIN))
            if stream.remote_closed:
                self._maybe_forget(stream)

    def on_control(self, kind: int, flags: int, payload: bytes) -> None:
        if kind == FrameType.SYN_STREAM:
            self._on_syn_stream(flags, payload)
        elif kind == FrameType.RST_STREAM and len(payload) >= 8:
            sid, _status = _U32x2.unpack_from(payload)
            stream = self.streams.get(sid & 0x7FFFFFFF)
            if stream is not None:
                stream._on_reset()
        elif kind == FrameType.PING and len(payload) >= 4:
            if _U32.unpack_from(payload)[0] & 1:  # the client's (odd): echo it back
                self._send(control_frame(FrameType.PING, 0, payload[:4]))
        elif kind == FrameType.GOAWAY:
            self.gone_away = True
            if not self.streams:
                self.close()
        elif kind == FrameType.HEADERS and len(payload) >= 4:
            sid = _U32.unpack_from(payload)[0] & 0x7FFFFFFF
            headers = self.codec.decompress(payload[4:])  # keeps the zlib stream in step
            stream = self.streams.get(sid)
            if stream is not None:
                stream.headers.update(headers)
                if flags & FLAG_FIN:
                    stream._on_data(b"", True)
        elif kind == FrameType.SYN_REPLY and len(payload) >= 4:
            self.codec.decompress(payload[4:])  # we open no streams; keep zlib in step
        # SETTINGS, WINDOW_UPDATE and unknown types: ignored, as spdystream does

    def _on_syn_stream(self, flags: int, payload: bytes) -> None:
        if len(payload) < 10:
            raise SpdyProtocolError("short SYN_STREAM")
        sid = _U32.unpack_from(payload)[0] & 0x7FFFFFFF
        headers = self.codec.decompress(payload[10:])
        if self.gone_away:
            return
        if sid % 2 == 0 or sid <= self.last_id:  # spdystream's validateStreamId
            self._send(rst_stream(sid, RstStatus.PROTOCOL_ERROR))
            return
        self.last_id = sid
        stream = SpdyStream(self, sid, headers, remote_fin=bool(flags & FLAG_FIN))
        self.streams[sid] = stream
        try:
            self.on_stream(stream)
        except ValueError:
            stream.reset(RstStatus.CANCEL)

    # bookkeeping
    def _send(self, frame: bytes) -> None:
        if not self.closed:
            self.last_active = self._loop.time()
            self.sink.write(frame)

    def _maybe_forget(self, stream: SpdyStream) -> None:
        if stream.local_closed and stream.remote_closed:
            self._forget(stream)

    def _forget(self, stream: SpdyStream) -> None:
        self.streams.pop(stream.id, None)
        if self.gone_away and not self.streams:
            self.close()

    def _pause(self) -> None:
        self._pauses += 1
        if self._pauses == 1:
            self.sink.pause_reading()

    def _unpause(self) -> None:
        self._pauses -= 1
        if self._pauses == 0 and not self.closed:
            self.sink.resume_reading()
