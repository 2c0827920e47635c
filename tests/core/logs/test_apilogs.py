"""The API reader's parsing, on bytes: frames, the raw TTY stream, characters cut by chunk boundaries."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from observe.logs.apiframes import RawSplitter, incomplete_tail, split_frame
from observe.logs.apilogs import ApiLogReader

STAMP = b"2026-12-01T08:59:37.986645952Z "
STAMP_NS = 1796115577986645952


def _reader(tty: bool = False) -> ApiLogReader:
    return ApiLogReader(None, "c", tty=tty)  # type: ignore[arg-type]  # parsing only: no engine is called


def test_frame_is_one_message_whatever_its_decoded_length() -> None:
    # The json-file driver replaced the cut byte: 16,386 bytes of content in a 16 KiB chunk.
    content = b"A" * 16383 + "\ufffd".encode()
    assert split_frame(STAMP + content) == (STAMP_NS, content, True)
    assert split_frame(STAMP + b"line\n") == (STAMP_NS, b"line", False)
    assert split_frame(b"no stamp\n") == (0, b"no stamp", False)


def test_raw_stream_splits_at_the_repeated_stamp_not_at_16_kib() -> None:
    first = b"A" * 16383 + "\ufffd".encode()
    data = STAMP + first + STAMP + "\ufffdBBB\r\n".encode() + STAMP.replace(b"52Z", b"53Z") + b"next\r\n"
    out = RawSplitter().feed(data)
    assert [(c, p) for _, c, p in out] == [(first, True), ("\ufffdBBB\r".encode(), False), (b"next\r", False)]


def test_character_cut_at_the_boundary_is_whole_again() -> None:
    for tty in (False, True):
        reader = _reader(tty)
        e_acute = "é".encode()
        lines = reader._lines([(STAMP_NS, b"A" * 16383 + e_acute[:1], True), (STAMP_NS, e_acute[1:] + b"BBB", False)],
                              "stdout")
        assert "".join(line.text for line in lines) == "A" * 16383 + "éBBB"
        assert not any(line.invalid_utf8 for line in lines)
        assert [line.partial for line in lines] == [True, False]


def test_cut_character_with_nothing_after_it_is_kept_and_flagged() -> None:
    reader = _reader()
    lines = reader._lines([(STAMP_NS, b"abc\xe2\x82", True)], "stderr")
    rest = reader._rest()
    assert [line.text for line in lines] == ["abc"]
    assert [(line.text, line.partial, line.invalid_utf8, line.stream) for line in rest] == [
        ("\ufffd", False, True, "stderr")]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40), st.lists(st.integers(min_value=0, max_value=40), max_size=6))
def test_chunked_decoding_equals_decoding_the_joined_bytes(data: bytes, cuts: list[int]) -> None:
    """Any bytes, cut anywhere into partial chunks: the texts joined are the joined bytes decoded."""
    points = sorted({min(c, len(data)) for c in cuts})
    bounds = [0, *points, len(data)]
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds)]
    messages = [(STAMP_NS, chunk, i < len(chunks) - 1) for i, chunk in enumerate(chunks)]
    reader = _reader()
    lines = reader._lines(messages, "stdout") + reader._rest()
    assert "".join(line.text for line in lines) == data.decode("utf-8", "replace")
    try:
        data.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    assert any(line.invalid_utf8 for line in lines) == (not valid)


def test_incomplete_tail() -> None:
    assert incomplete_tail(b"abc") == 0
    assert incomplete_tail("é".encode()[:1]) == 1
    assert incomplete_tail("€".encode()[:2]) == 2
    assert incomplete_tail("😀".encode()[:3]) == 3
    assert incomplete_tail("😀".encode()) == 0
    assert incomplete_tail(b"\xff") == 0


def test_last_chunk_without_newline_ends_at_the_next_time() -> None:
    """The local driver sends a split line's last chunk without a newline; the next line has a new time."""
    reader = _reader()
    later = STAMP_NS + 1
    lines = reader._lines([(STAMP_NS, b"A" * 16383 + b"\xc3", True), (STAMP_NS, b"\xa9BBB", True),
                           (later, b"next", False)], "stdout")
    assert [(line.text[-4:], line.partial) for line in lines] == [("AAAA", True), ("éBBB", True), ("", False),
                                                                    ("next", False)]
    raw = RawSplitter()
    again = STAMP.replace(b"52Z", b"53Z")
    out = raw.feed(STAMP + b"A" * 16384 + STAMP + b"BBB" + again + b"next\r\n")
    assert [(c[-4:], p) for _, c, p in out] == [(b"AAAA", True), (b"BBB", True), (b"ext\r", False)]
