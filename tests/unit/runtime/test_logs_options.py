"""``kubectl logs --timestamps/--since/--limit-bytes`` over a log file and its arrival-time
index (what the log pump writes: ``<offset> <unix ns>`` per chunk)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from kubesvc.api.podlogs import LogOptions
from kubesvc.runtime.logs import ArrivalTimes, filter_lines

T0 = 1_700_000_000 * 10**9  # 2023-11-14T22:13:20Z


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for p in parts:
        yield p


def _index(tmp_path: Path, entries: list[tuple[int, int]]) -> ArrivalTimes:
    p = tmp_path / "0.log-times"
    p.write_text("".join(f"{off} {ns}\n" for off, ns in entries))
    return ArrivalTimes(str(p))


async def _run(gen: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in gen])


async def test_timestamps_are_each_lines_chunk_arrival(tmp_path: Path) -> None:
    # chunk 1 at T0 holds "a\nb", chunk 2 at T0+1s holds "\nc\n"
    times = _index(tmp_path, [(0, T0), (3, T0 + 10**9)])
    out = await _run(filter_lines(_chunks(b"a\nb", b"\nc\n"), times,
                                  LogOptions(timestamps=True), start=0))
    assert out == (b"2023-11-14T22:13:20.000000000Z a\n"
                   b"2023-11-14T22:13:20.000000000Z b\n"  # the line began in chunk 1
                   b"2023-11-14T22:13:21.000000000Z c\n")


async def test_since_time_drops_older_lines(tmp_path: Path) -> None:
    times = _index(tmp_path, [(0, T0), (4, T0 + 5 * 10**9)])
    opts = LogOptions(since_time=(T0 + 10**9) / 10**9)
    out = await _run(filter_lines(_chunks(b"old\nnew\n"), times, opts, start=0))
    assert out == b"new\n"


async def test_tail_start_offset_maps_into_the_index(tmp_path: Path) -> None:
    times = _index(tmp_path, [(0, T0), (4, T0 + 2 * 10**9)])
    out = await _run(filter_lines(_chunks(b"new\n"), times, LogOptions(timestamps=True),
                                  start=4))
    assert out == b"2023-11-14T22:13:22.000000000Z new\n"


async def test_limit_bytes_alone_cuts_the_byte_stream(tmp_path: Path) -> None:
    times = _index(tmp_path, [])
    out = await _run(filter_lines(_chunks(b"hello ", b"world\n"), times,
                                  LogOptions(limit_bytes=8), start=0))
    assert out == b"hello wo"


async def test_limit_bytes_counts_the_timestamps(tmp_path: Path) -> None:
    times = _index(tmp_path, [(0, T0)])
    out = await _run(filter_lines(_chunks(b"x\ny\n"), times,
                                  LogOptions(timestamps=True, limit_bytes=33), start=0))
    assert out == b"2023-11-14T22:13:20.000000000Z x\n"


async def test_a_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    times = _index(tmp_path, [(0, T0)])
    out = await _run(filter_lines(_chunks(b"a\npartial"), times,
                                  LogOptions(timestamps=True), start=0))
    assert out.endswith(b"Z partial")


def test_index_restarts_after_a_rotation(tmp_path: Path) -> None:
    times = _index(tmp_path, [(0, T0), (100, T0 + 1)])
    assert times.at(150) == T0 + 1
    with open(times.path, "a") as f:  # rotated: offsets start again
        f.write(f"0 {T0 + 50}\n")
    assert times.at(200) == T0 + 50


def test_index_truncated_by_a_rotation_is_read_again(tmp_path: Path) -> None:
    times = _index(tmp_path, [(0, T0), (100, T0 + 1)])
    assert times.at(150) == T0 + 1
    Path(times.path).write_text(f"0 {T0 + 7}\n")  # the pump truncates it for the new file
    assert times.at(200) == T0 + 7
