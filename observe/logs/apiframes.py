"""The frames of the engine's log stream: messages with their timestamps, partial chunks, raw TTY bytes.

Pure: what ``apilogs.ApiLogReader`` reads from the engine is cut into messages here.
"""

from __future__ import annotations

import re

from observe.timefmt import parse_ns

PARTIAL_SIZE = 16 * 1024
_TS = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d) ")
_ENGINE_TS = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")  # the engine's own, fixed width


Message = tuple[int, bytes, bool]
"""(time_ns, content bytes without the newline, partial): one message of the engine's log stream."""


def split_frame(payload: bytes) -> Message:
    """One frame of a multiplexed stream: Docker writes one log message per frame, its timestamp first.

    The frame's own length (from its header) bounds the message, so nothing here depends on
    how long the content is once decoded. A message that does not end in a newline is partial:
    the rest of its line follows in the next message of the same stream (or it was the last,
    unterminated line of the log).
    """
    m = _TS.match(payload)
    if m is None:  # not timestamped (should not happen): keep the bytes as a line of text
        time_ns, content = 0, payload
    else:
        time_ns, content = parse_ns(m.group()[:-1].decode()), payload[m.end():]
    if content.endswith(b"\n"):
        return time_ns, content[:-1], False
    return time_ns, content, True


class RawSplitter:
    """Turns a TTY container's raw stream (no frames, not line-aligned) into timestamped messages.

    A message ends at its newline, or where the next chunk of the same long line begins: Docker
    gives every chunk of a split line the timestamp of its first, so the boundary is where that
    same timestamp appears again (engines that stamped each chunk anew split at exactly 16 KiB).
    The last chunk of a split line may have no newline (the ``local`` driver's): it ends where
    the engine's next timestamp begins. The content's decoded length is never used: a chunk whose
    bytes the json-file driver replaced with U+FFFD is longer than 16 KiB in the stream.
    """

    def __init__(self) -> None:
        self.buf = b""
        self.continuing = False  # the last message was a chunk cut at a boundary

    def feed(self, data: bytes, final: bool = False) -> list[Message]:
        """Every complete message in the buffer (with ``final``, also what is left)."""
        buf = self.buf + data if data else self.buf
        out: list[Message] = []
        pos = 0
        size = len(buf)
        while pos < size:
            m = _TS.match(buf, pos)
            if m is None:
                # Not at a timestamp: bytes we cannot place (should not happen); keep them as text.
                nl = buf.find(b"\n", pos)
                if nl < 0 and not final:
                    break
                end = size if nl < 0 else nl
                out.append((0, buf[pos:end], False))
                pos = end + 1
                continue
            stamp = m.group()
            start = m.end()
            nl = buf.find(b"\n", start)
            limit = size if nl < 0 else nl
            boundary, cut = buf.find(stamp, start, limit), True
            if boundary < 0 and limit - start > PARTIAL_SIZE and _TS.match(buf, start + PARTIAL_SIZE):
                boundary = start + PARTIAL_SIZE
            if boundary < 0 and self.continuing:
                later = _ENGINE_TS.search(buf, start, limit)
                boundary, cut = (later.start(), False) if later is not None else (-1, True)
            time_ns = parse_ns(stamp[:-1].decode())
            if boundary >= 0:
                out.append((time_ns, buf[start:boundary], True))
                self.continuing = cut
                pos = boundary
                continue
            if nl < 0:
                if final:
                    out.append((time_ns, buf[start:], True))
                    pos = size
                break
            out.append((time_ns, buf[start:nl], False))
            self.continuing = False
            pos = nl + 1
        self.buf = buf[pos:]
        return out


def incomplete_tail(data: bytes) -> int:
    """How many bytes at the end of ``data`` start a UTF-8 character that is not complete yet (0 to 3).

    Splitting there (just before a byte that is not a continuation byte) decodes exactly as the
    joined bytes would.
    """
    n = len(data)
    for back in range(1, min(4, n) + 1):
        byte = data[n - back]
        if byte & 0xC0 == 0x80:
            continue
        need = 2 if 0xC2 <= byte <= 0xDF else 3 if 0xE0 <= byte <= 0xEF else 4 if 0xF0 <= byte <= 0xF4 else 0
        return back if need > back else 0
    return 0


def decode(data: bytes) -> tuple[str, bool]:
    """(text, had invalid UTF-8): invalid bytes replaced with U+FFFD."""
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace"), True
