"""SPDY/3.1 framing and the server session, on bytes: the dictionary, header blocks, frame
layouts, incremental parsing, stream-ID rules, PING, GOAWAY, RST, back-pressure."""

from __future__ import annotations

import zlib

import pytest

from kubesvc.runtime.streaming import spdy
from tests.fakes.spdysink import RecordingSink


def test_dictionary_is_the_spdy3_one() -> None:
    d = spdy.DICTIONARY
    assert len(d) == 1423
    assert d.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert d.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")
    assert zlib.adler32(d) == 0xE3C6A7C2  # the DICTID a Go zlib reader checks


def test_header_block_layout_and_lowercasing() -> None:
    assert spdy.encode_header_block({"Port": "80"}) == (
        b"\x00\x00\x00\x01" b"\x00\x00\x00\x04port" b"\x00\x00\x00\x0280")
    raw = spdy.encode_header_block({"streamType": "data", "requestID": "3"})
    assert spdy.decode_header_block(raw) == {"streamtype": "data", "requestid": "3"}
    with pytest.raises(spdy.SpdyProtocolError):
        spdy.decode_header_block(b"\x00\x00\x00\x02\x00")


def test_header_compression_is_one_zlib_stream_with_the_dictionary() -> None:
    codec = spdy.HeaderCodec()
    plain = zlib.decompressobj(zdict=spdy.DICTIONARY)  # an independent reader
    for headers in ({"port": "80"}, {}, {"streamtype": "error", "port": "8080"}):
        block = codec.compress(headers)
        assert block.endswith(b"\x00\x00\xff\xff")  # Z_SYNC_FLUSH per block
        assert spdy.decode_header_block(plain.decompress(block)) == headers
    other = zlib.compressobj(1, zlib.DEFLATED, 15, zdict=spdy.DICTIONARY)
    reader = spdy.HeaderCodec()
    block = other.compress(spdy.encode_header_block({"a": "b"})) + other.flush(zlib.Z_SYNC_FLUSH)
    assert reader.decompress(block) == {"a": "b"}
    with pytest.raises(spdy.SpdyProtocolError):
        spdy.HeaderCodec().decompress(b"garbage!")


def test_frame_layouts() -> None:
    assert spdy.data_frame(5, b"", fin=True) == b"\x00\x00\x00\x05\x01\x00\x00\x00"
    assert spdy.data_frame(3, b"abc") == b"\x00\x00\x00\x03\x00\x00\x00\x03abc"
    assert spdy.rst_stream(7, spdy.RstStatus.CANCEL) == (
        b"\x80\x03\x00\x03\x00\x00\x00\x08\x00\x00\x00\x07\x00\x00\x00\x05")
    assert spdy.ping(1) == b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"
    assert spdy.goaway(9) == b"\x80\x03\x00\x07\x00\x00\x00\x08\x00\x00\x00\x09\x00\x00\x00\x00"
    reply = spdy.syn_reply(spdy.HeaderCodec(), 1, {})
    assert reply[:4] == b"\x80\x03\x00\x02" and reply[8:12] == b"\x00\x00\x00\x01"
    syn = spdy.syn_stream(spdy.HeaderCodec(), 3, {"x": "y"}, fin=True)
    assert syn[:5] == b"\x80\x03\x00\x01\x01" and syn[8:16] == b"\x00\x00\x00\x03\x00\x00\x00\x00"


class _Collect:
    def __init__(self) -> None:
        self.got: list[tuple[str, int, int, bytes]] = []

    def on_data(self, stream_id: int, flags: int, data: bytes) -> None:
        self.got.append(("data", stream_id, flags, data))

    def on_control(self, kind: int, flags: int, payload: bytes) -> None:
        self.got.append(("control", kind, flags, payload))


def test_parser_handles_any_split_and_rejects_other_versions() -> None:
    wire = spdy.ping(3) + spdy.data_frame(1, b"x" * 1000, fin=True) + spdy.window_update(1, 10)
    for step in (1, 7, 999, len(wire)):
        sink = _Collect()
        parser = spdy.FrameParser(sink)
        for i in range(0, len(wire), step):
            parser.feed(wire[i:i + step])
        assert sink.got == [("control", 6, 0, b"\x00\x00\x00\x03"),
                            ("data", 1, 1, b"x" * 1000),
                            ("control", 9, 0, b"\x00\x00\x00\x01\x00\x00\x00\x0a")]
    with pytest.raises(spdy.SpdyProtocolError):
        spdy.FrameParser(_Collect()).feed(b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01")


def _session() -> tuple[spdy.SpdySession, RecordingSink, list[spdy.SpdyStream], spdy.HeaderCodec]:
    sink, opened = RecordingSink(), []

    def on_stream(stream: spdy.SpdyStream) -> None:
        if stream.headers.get("reject"):
            raise ValueError("no")
        opened.append(stream)

    return spdy.SpdySession(sink, on_stream), sink, opened, spdy.HeaderCodec()


async def test_streams_ids_replies_and_data() -> None:
    session, sink, opened, client = _session()
    session.data_received(spdy.syn_stream(client, 1, {"port": "80"}))
    (stream,) = opened
    assert stream.headers == {"port": "80"} and stream.id == 1
    session.data_received(spdy.data_frame(1, b"early"))  # before the reply: dropped
    stream.reply()
    session.data_received(spdy.data_frame(1, b"hello") + spdy.data_frame(1, b"", fin=True))
    assert await stream.read_all() == b"hello"
    stream.write(b"back")
    stream.close()
    kinds = [(k, sid, flags, p) for k, sid, flags, p in sink.frames()]
    assert kinds[0][:2] == ("SYN_REPLY", 1)
    assert kinds[1:] == [("data", 1, 0, b"back"), ("data", 1, 1, b"")]
    assert 1 not in session.streams  # both halves closed

    # even (server-side) IDs and IDs going backwards are protocol errors
    session.data_received(spdy.syn_stream(client, 4, {}) + spdy.syn_stream(client, 1, {}))
    assert [(k, sid) for k, sid, _, _ in sink.frames()] == [("RST_STREAM", 4),
                                                              ("RST_STREAM", 1)]
    session.data_received(spdy.syn_stream(client, 3, {"reject": "1"}))
    ((kind, sid, _, payload),) = sink.frames()
    assert (kind, sid, payload[4:]) == ("RST_STREAM", 3, b"\x00\x00\x00\x05")


async def test_ping_reset_goaway_and_protocol_errors() -> None:
    session, sink, opened, client = _session()
    session.data_received(spdy.ping(5) + spdy.ping(6))  # only the client's (odd) is echoed
    assert sink.frames() == [("PING", 0, 0, b"\x00\x00\x00\x05")]
    session.data_received(spdy.syn_stream(client, 1, {}))
    opened[0].reply()
    session.data_received(spdy.rst_stream(1, spdy.RstStatus.CANCEL))
    assert opened[0].was_reset and await opened[0].read() == b""
    opened[0].write(b"ignored")
    assert [k for k, *_ in sink.frames()] == ["SYN_REPLY"]
    session.data_received(spdy.goaway(1))
    assert sink.closed and session.closed
    await session.wait_closed()

    session, sink, _, _ = _session()
    session.data_received(b"\x80\x03\x00\x01\x00\x00\x00\x0c" + b"\x00" * 12)  # bad headers
    assert session.error is not None and sink.closed
    assert [k for k, *_ in sink.frames()] == ["GOAWAY"]


async def test_a_slow_reader_pauses_the_connection() -> None:
    session, sink, opened, client = _session()
    session.data_received(spdy.syn_stream(client, 1, {}))
    opened[0].reply()
    chunk = b"z" * (256 << 10)
    for _ in range(5):
        session.data_received(spdy.data_frame(1, chunk))
    assert sink.paused and sink.pause_calls == 1
    while opened[0]._buffered > spdy.READ_LOW:
        await opened[0].read()
    assert not sink.paused
    session.connection_lost()
    assert opened[0].was_reset and await opened[0].read() == b""


async def test_big_writes_are_split_into_frames() -> None:
    session, sink, opened, client = _session()
    session.data_received(spdy.syn_stream(client, 1, {}))
    opened[0].reply()
    opened[0].write(b"a" * (spdy.DATA_CHUNK * 2 + 5))
    assert [len(p) for k, _, _, p in sink.frames() if k == "data"] == [
        spdy.DATA_CHUNK, spdy.DATA_CHUNK, 5]
