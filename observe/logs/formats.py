"""Output formats of log records: one line of bytes per record, no I/O.

A record's ``doc`` is flat: dotted ECS keys (``log.level``, ``container.image.name``) beside
the application's own fields, which keep their shape. The formats:

- ``logstash``: one JSON object with the dotted ECS keys nested (``{"log": {"level": ..}}``),
  what logstash's ``json_lines`` codec and Elasticsearch expect;
- ``json``: the flat document as it is (dotted keys), the cheapest to produce;
- ``text``: a human line ``<@timestamp> <container> <LEVEL> <message>``, coloured by level
  when asked; a stack trace follows on its own lines, so a text record may span lines.

Only the normaliser's own dotted keys (``observe.logs.fields.OWN_FIELDS``) are nested; the
normaliser has already expanded an application's dotted keys. Rendering never raises on odd
values: strings with lone surrogates are repaired, unknown objects are written as their
``str()``, integers beyond 64 bits as strings of their digits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from observe.logs.fields import DOTTED

FORMATS = ("logstash", "json", "text")

# Dotted keys the normaliser writes, with their path once nested.
_NESTED: dict[str, tuple[str, ...]] = {key: tuple(key.split(".")) for key in DOTTED}

_COLORS = {
    "trace": "\x1b[2m",
    "debug": "\x1b[2m",
    "info": "\x1b[32m",
    "notice": "\x1b[36m",
    "warn": "\x1b[33m",
    "error": "\x1b[31m",
    "critical": "\x1b[1;31m",
    "fatal": "\x1b[1;35m",
}
_RESET = "\x1b[0m"
_APPEND_NL = orjson.OPT_APPEND_NEWLINE


class _Obj(dict[str, Any]):
    """An object ``nest`` made itself (so the only kind it adds keys to: never the caller's)."""

    __slots__ = ()


def nest(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The logstash shape of a flat document: the normaliser's dotted keys become objects.

    A key whose place is taken (an application field already holds a non-object there, or
    the other way round) is kept under a free name (its dotted name, or a ``_`` added), so
    nothing is lost.
    """
    out: dict[str, Any] = {}
    nested = _NESTED
    for key, value in doc.items():
        path = nested.get(key)
        if path is None:
            while key in out:
                key += "_"
            out[key] = value
        elif len(path) == 2:
            head, leaf = path
            node = out.get(head)
            if node is None:
                out[head] = _Obj({leaf: value})
            elif type(node) is _Obj and leaf not in node:
                node[leaf] = value
            else:
                out[key] = value
        else:
            node = out
            for part in path[:-1]:
                child = node.get(part)
                if child is None:
                    child = node[part] = _Obj()
                elif type(child) is not _Obj:
                    break
                node = child
            else:
                if path[-1] not in node:
                    node[path[-1]] = value
                    continue
            out[key] = value
    return out


_Plan = Callable[[list[Any]], dict[str, Any]]
_plans: dict[tuple[str, ...], _Plan] = {}
_seen: set[int] = set()
_MAX_PLANS = 512
_MAX_SEEN = 4 * _MAX_PLANS
_MAX_LAYOUT_KEYS = 64
_MAX_LAYOUT_CHARS = 2048
"""A layout wider than this (keys, or characters of all its keys) is never compiled nor remembered.

The plans' memory is bounded in bytes, not only in entries: at most ``_MAX_PLANS`` layouts of
at most ``_MAX_LAYOUT_CHARS`` characters each (about 4 KiB of code each), and ``_seen`` holds
only hashes. Without the width bound, lines whose 10,000 keys changed at every line kept
hundreds of MB of compiled plans.
"""


def _emit(shape: Any) -> str:
    if isinstance(shape, int):
        return f"v[{shape}]"
    return "{" + ", ".join(f"{key!r}: {_emit(value)}" for key, value in shape.items()) + "}"


def _nest_fast(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``nest(doc)``, through a function compiled for the document's key layout.

    Records of one container share a handful of layouts, so the nesting is worked out
    once per layout (``nest`` run on the keys alone) and turned into one dict display
    over the values. A layout is compiled the second time it is seen; when ``_MAX_PLANS``
    are kept the cache starts again (layouts in use come back at once). Wide layouts take
    the plain ``nest``.
    """
    keys = tuple(doc)
    plan = _plans.get(keys)
    if plan is None:
        if len(keys) > _MAX_LAYOUT_KEYS:
            return nest(doc)
        marker = hash(keys)
        if marker not in _seen:
            if len(_seen) >= _MAX_SEEN:
                _seen.clear()
            _seen.add(marker)
            return nest(doc)
        if sum(map(len, keys)) > _MAX_LAYOUT_CHARS:
            return nest(doc)
        if len(_plans) >= _MAX_PLANS:
            _plans.clear()
        shape = nest(dict(zip(keys, range(len(keys)), strict=True)))
        # Keys enter the source only as repr() literals, which eval back to the same strings.
        plan = _plans[keys] = eval(compile("lambda v: " + _emit(shape), "<nest plan>", "eval"))
    return plan(list(doc.values()))


def _fallback(value: Any) -> Any:
    """``value`` made serialisable: surrogates repaired, too-deep nesting written as text."""

    def fix(v: Any, depth: int) -> Any:
        if isinstance(v, str):
            return v.encode("utf-8", "replace").decode("utf-8")
        if v is None or isinstance(v, bool | int | float):
            if isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**64:
                return str(v)
            return v
        if depth > 200:
            try:
                return json.dumps(v, ensure_ascii=False, default=str)
            except (ValueError, TypeError, RecursionError):
                return "<unrenderable>"
        if isinstance(v, Mapping):
            return {str(fix(k, depth + 1)): fix(x, depth + 1) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [fix(x, depth + 1) for x in v]
        return fix(str(v), depth + 1)

    return fix(value, 0)


def _dumps(value: Any, option: int = 0) -> bytes:
    try:
        return orjson.dumps(value, default=str, option=option)
    except (TypeError, ValueError):
        return orjson.dumps(_fallback(value), default=str, option=option)


def _text(doc: Mapping[str, Any], color: bool) -> str:
    level = str(doc.get("log.level", "") or "")
    message = str(doc.get("message", ""))
    label = level.upper().ljust(5)
    if color:
        label = _COLORS.get(level, "") + label + _RESET
    line = f"{doc.get('@timestamp', '')} {doc.get('container.name', '')} {label} {message}"
    trace = doc.get("error.stack_trace")
    if trace:
        trace = str(trace)
        if trace.startswith(message + "\n"):
            trace = trace[len(message) + 1 :]
        elif trace.endswith("\n" + message):
            trace = trace[: -len(message) - 1]
        line = f"{line}\n{trace}"
    return line


def render(doc: Mapping[str, Any], fmt: str, color: bool = False) -> bytes:
    """One record in one format, without a trailing newline.

    Args:
        doc: a flat record document as ``observe.logs.normalise`` builds it.
        fmt: one of ``FORMATS``.
        color: colour the level with ANSI codes (``text`` only).

    Raises:
        ValueError: ``fmt`` is not one of ``FORMATS``.
    """
    if fmt == "json":
        return _dumps(doc)
    if fmt == "logstash":
        return _dumps(_nest_fast(doc))
    if fmt == "text":
        return _text(doc, color).encode("utf-8", "replace")
    raise ValueError(f"unknown log format {fmt!r} (expected one of {', '.join(FORMATS)})")


def render_lines(docs: Sequence[Mapping[str, Any]], fmt: str) -> list[bytes]:
    """Many records in one format, one bytes object each, ending in a newline (uncoloured).

    Raises:
        ValueError: ``fmt`` is not one of ``FORMATS``.
    """
    if fmt == "json":
        dumps = orjson.dumps
        try:
            return [dumps(d, default=str, option=_APPEND_NL) for d in docs]
        except (TypeError, ValueError):
            return [_dumps(d, _APPEND_NL) for d in docs]
    if fmt == "logstash":
        return [_dumps(_nest_fast(d), _APPEND_NL) for d in docs]
    if fmt == "text":
        return [(_text(d, False) + "\n").encode("utf-8", "replace") for d in docs]
    raise ValueError(f"unknown log format {fmt!r} (expected one of {', '.join(FORMATS)})")


def render_batch(docs: Sequence[Mapping[str, Any]], fmt: str) -> bytes:
    """Many records in one format, each line ending in a newline (uncoloured).

    Raises:
        ValueError: ``fmt`` is not one of ``FORMATS``.
    """
    if fmt == "json":
        dumps = orjson.dumps
        try:
            return b"".join([dumps(d, default=str, option=_APPEND_NL) for d in docs])
        except (TypeError, ValueError):
            return b"".join([_dumps(d, _APPEND_NL) for d in docs])
    if fmt == "logstash":
        return b"".join([_dumps(_nest_fast(d), _APPEND_NL) for d in docs])
    if fmt == "text":
        return "".join([_text(d, False) + "\n" for d in docs]).encode("utf-8", "replace")
    raise ValueError(f"unknown log format {fmt!r} (expected one of {', '.join(FORMATS)})")
