"""The json-file reader on files the tests write the way Docker's json-file driver does."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from observe.logs.jsonfile import JsonFileReader
from observe.model import LogLine
from observe.timefmt import format_ns, parse_ns

BASE_NS = 1_795_000_000_000_000_000


def entry(n: int, text: str | None = None, stream: str = "stdout", newline: bool = True) -> bytes:
    log = (text if text is not None else f"line {n}") + ("\n" if newline else "")
    stamp = format_ns(BASE_NS + n * 1000).replace("000Z", "Z")
    return (json.dumps({"log": log, "stream": stream, "time": stamp}) + "\n").encode()


def drain(reader: JsonFileReader) -> list[LogLine]:
    out: list[LogLine] = []
    while batch := reader.read():
        out.extend(batch)
    return out


def texts(lines: list[LogLine]) -> list[str]:
    return [line.text for line in lines]


def test_reads_lines_streams_and_nanoseconds(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_bytes(entry(0) + entry(1, "oops", "stderr") + entry(2, "part", newline=False) + entry(3, "rest"))
    lines = drain(JsonFileReader(str(log)))
    assert texts(lines) == ["line 0", "oops", "part", "rest"]
    assert [line.stream for line in lines] == ["stdout", "stderr", "stdout", "stdout"]
    assert [line.partial for line in lines] == [False, False, True, False]
    assert lines[1].time_ns == BASE_NS + 1000
    assert lines[-1].position is not None and lines[-1].position.offset == log.stat().st_size


def test_a_line_many_reads_long_is_read_whole_in_doubling_reads(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A 4 MiB line among short ones: whole, in order, and read in a handful of reads (not one per 64 KiB)."""
    import observe.logs.jsonfile as jsonfile

    log = tmp_path / "c-json.log"
    big = "x" * (4 << 20)
    log.write_bytes(entry(0) + entry(1, big) + entry(2))
    sizes: list[int] = []
    real = os.pread

    def counting(fd: int, size: int, offset: int) -> bytes:
        sizes.append(size)
        return real(fd, size, offset)

    monkeypatch.setattr(jsonfile.os, "pread", counting)
    lines = drain(JsonFileReader(str(log), max_line_bytes=8 << 20))
    assert texts(lines) == ["line 0", big, "line 2"]
    assert lines[-1].position is not None and lines[-1].position.offset == log.stat().st_size
    assert len(sizes) <= 12 and max(sizes) >= 2 << 20, sizes
    assert jsonfile.READ_SIZE <= 1 << 16  # short reads: a batch's objects stay in the CPU's cache


def test_incomplete_last_line_waits(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    whole = entry(0) + entry(1)
    log.write_bytes(whole[:-10])
    reader = JsonFileReader(str(log))
    assert texts(drain(reader)) == ["line 0"]
    with log.open("ab") as fh:
        fh.write(whole[-10:])
    assert texts(drain(reader)) == ["line 1"]


def test_follows_rotation_including_lines_written_before_the_rename(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_bytes(entry(0) + entry(1))
    reader = JsonFileReader(str(log))
    assert texts(drain(reader)) == ["line 0", "line 1"]
    with log.open("ab") as fh:
        fh.write(entry(2))  # written after our last read, just before rotation
    os.rename(log, f"{log}.1")
    log.write_bytes(entry(3))
    assert texts(drain(reader)) == ["line 2", "line 3"]
    # Two rotations between reads: .1 -> .2, new .1, new current.
    os.rename(f"{log}.1", f"{log}.2")
    with log.open("ab") as fh:
        fh.write(entry(4))
    os.rename(log, f"{log}.1")
    log.write_bytes(entry(5))
    os.rename(f"{log}.1", f"{log}.3")
    os.rename(f"{log}.2", f"{log}.4")
    os.rename(f"{log}.3", f"{log}.2")
    os.rename(log, f"{log}.1")
    log.write_bytes(entry(6))
    assert texts(drain(reader)) == ["line 4", "line 5", "line 6"]


def test_lines_written_between_the_read_at_the_end_and_the_rename_are_read(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader finds the end of its file, then Docker writes more to it and rotates, all before the reader looks
    for a newer file: the old file's last lines come before the new file's, none lost."""
    import observe.logs.jsonfile as jsonfile

    log = tmp_path / "c-json.log"
    log.write_bytes(entry(0))
    reader = JsonFileReader(str(log))
    assert texts(drain(reader)) == ["line 0"]
    real_stat = os.stat
    raced = []

    def stat_after_the_race(path: str | os.PathLike[str], **kwargs: bool) -> os.stat_result:
        if not raced and str(path) == str(log):
            raced.append(True)
            with log.open("ab") as fh:
                fh.write(entry(1) + entry(2))
            os.rename(log, f"{log}.1")
            log.write_bytes(entry(3))
        return real_stat(path, **kwargs)

    monkeypatch.setattr(jsonfile.os, "stat", stat_after_the_race)
    assert texts(drain(reader)) == ["line 1", "line 2", "line 3"]
    assert raced


def test_resume_from_position_in_a_rotated_file(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_bytes(entry(0) + entry(1) + entry(2))
    first = drain(JsonFileReader(str(log)))
    os.rename(log, f"{log}.1")
    log.write_bytes(entry(3))
    assert first[0].position is not None
    resumed = JsonFileReader(str(log), first[0].position)
    assert texts(drain(resumed)) == ["line 1", "line 2", "line 3"]


def test_reused_inode_is_not_taken_for_the_checkpointed_file(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_bytes(entry(0) + entry(1))
    pos = drain(JsonFileReader(str(log)))[0].position
    assert pos is not None
    lost: list[str] = []
    # Same path, same inode number, different content: truncate in place and write anew.
    with log.open("r+b") as fh:
        fh.truncate(0)
        fh.write(entry(100) + entry(101) + entry(102))
    lines = drain(JsonFileReader(str(log), pos, on_lost=lost.append))
    assert texts(lines) == ["line 100", "line 101", "line 102"]
    assert lost and "rotated away" in lost[0]


def test_truncation_under_the_reader_is_reported(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_bytes(entry(0) + entry(1))
    lost: list[str] = []
    reader = JsonFileReader(str(log), on_lost=lost.append)
    drain(reader)
    with log.open("r+b") as fh:
        fh.truncate(0)
    log.write_bytes(entry(2))
    assert texts(drain(reader)) == ["line 2"]
    assert lost and "truncated" in lost[0]


def test_corrupt_lines_are_kept_as_text(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_bytes(entry(0) + b'{"log":"torn\n' + b"\xff\xfe garbage\n" + entry(1))
    lines = drain(JsonFileReader(str(log)))
    assert texts(lines)[0] == "line 0" and texts(lines)[-1] == "line 1"
    assert len(lines) == 4 and lines[1].invalid_utf8 and lines[2].invalid_utf8


def test_end_position_reads_only_what_comes_next(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_bytes(entry(0))
    reader = JsonFileReader(str(log), JsonFileReader.end_position(str(log)))
    assert drain(reader) == []
    with log.open("ab") as fh:
        fh.write(entry(1))
    assert texts(drain(reader)) == ["line 1"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=40).filter(lambda s: "\n" not in s), min_size=1, max_size=30),
       st.lists(st.integers(min_value=1, max_value=200), max_size=6))
def test_any_split_of_writes_gives_every_line_once(tmp_path_factory: pytest.TempPathFactory, messages: list[str],
                                                   cuts: list[int]) -> None:
    log = tmp_path_factory.mktemp("p") / "c-json.log"
    data = b"".join(entry(i, m) for i, m in enumerate(messages))
    log.write_bytes(b"")
    reader = JsonFileReader(str(log))
    got: list[LogLine] = []
    pos = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        end = min(len(data), pos + cut) if cut != len(data) else len(data)
        with log.open("ab") as fh:
            fh.write(data[pos:end])
        pos = end
        got.extend(drain(reader))
    assert texts(got) == messages


@pytest.mark.parametrize(
    "stamp", ["2026-11-29T18:33:55.109052467Z", "2026-11-29T18:33:55Z", "2026-11-29T18:33:55.1Z",
              "2026-11-29T20:33:55.109052467+02:00"],
)
def test_time_parsing_keeps_nanoseconds(stamp: str) -> None:
    ns = parse_ns(stamp)
    assert parse_ns(format_ns(ns)) == ns
    assert format_ns(ns).startswith("2026-11-29T18:33:55")


def test_rotation_faster_than_reading_names_the_lost_window(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_bytes(entry(0) + entry(1))
    lost: list[str] = []
    reader = JsonFileReader(str(log), on_lost=lost.append)
    drain(reader)
    os.rename(log, f"{log}.1")
    log.write_bytes(entry(2))  # this file comes and goes unread
    os.unlink(f"{log}.1")
    os.rename(log, f"{log}.1")
    log.write_bytes(entry(5))
    os.unlink(f"{log}.1")
    assert texts(drain(reader)) == ["line 5"]
    assert len(lost) == 1
    assert f"between {format_ns(BASE_NS + 1000)} and {format_ns(BASE_NS + 5000)}" in lost[0]


def _rotated_log(directory: Path, files: list[list[bytes]], tail: bytes = b"") -> Path:
    """A log whose lines are spread over rotated files, oldest first (``.N`` ... ``.1``, then the live file)."""
    log = directory / "c-json.log"
    for age, lines in enumerate(reversed(files)):
        name = log if age == 0 else Path(f"{log}.{age}")
        name.write_bytes(b"".join(lines) + (tail if age == 0 else b""))
    return log


@settings(max_examples=80, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=4),
       tail=st.integers(min_value=0, max_value=40), block=st.sampled_from([1, 7, 64, 1 << 16]),
       writing=st.booleans())
def test_a_tail_reads_exactly_the_last_lines_across_rotated_files(
        tmp_path_factory: pytest.TempPathFactory, sizes: list[int], tail: int, block: int, writing: bool) -> None:
    import observe.logs.jsonfile as jsonfile

    n = 0
    files: list[list[bytes]] = []
    for size in sizes:
        files.append([entry(n + i, f"m{n + i}" + "x" * (i % 5)) for i in range(size)])
        n += size
    # A line being written (no newline yet) at the end of the live file is not one of the last lines.
    log = _rotated_log(tmp_path_factory.mktemp("t"), files, entry(n)[:-9] if writing else b"")
    expected = [f"m{i}" for i in range(n)][max(0, n - tail):] if tail else []
    saved, jsonfile.TAIL_BLOCK = jsonfile.TAIL_BLOCK, block  # small blocks: lines cut by every boundary
    try:
        position = JsonFileReader.tail_position(str(log), tail)
    finally:
        jsonfile.TAIL_BLOCK = saved
    reader = JsonFileReader(str(log), position)
    assert [t.rstrip("x") for t in texts(drain(reader))] == expected


def test_a_tail_of_a_missing_log_is_none(tmp_path: Path) -> None:
    assert JsonFileReader.tail_position(str(tmp_path / "gone-json.log"), 10) is None
