"""Rendering metric tables as the Prometheus text format and as OpenMetrics. Pure.

A ``Section`` is one table over its items, each item with its label values already known; the
renderer walks the rows and writes lines. Item label sets are escaped once per item, not once per
series, which is most of what makes this several times cheaper than building client objects for
every series. Families without a series are left out.

Text format 0.0.4: ``# HELP`` escapes backslash and newline; types ``counter``, ``gauge``,
``untyped``. OpenMetrics 1.0: counters are declared without their ``_total`` (a counter whose name
lacks it is declared ``unknown``), ``# UNIT`` where the name ends in the unit, ``# EOF`` at the end.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from exporters.metricspec import COUNTER, GAUGE, MetricSpec

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Section:
    """One table over its items: (item label values, item) pairs, the item label names.

    ``key``, when given, maps an item to a value such that two items with equal keys (and equal label
    values) have the same series in every row of the table but its ``volatile`` ones: the renderer then
    reuses the lines it made the last time instead of calling the getters again.
    """

    table: Sequence[MetricSpec[Any]]
    items: Sequence[tuple[tuple[str, ...], Any]]
    item_labels: tuple[str, ...]
    key: Callable[[Any], object] | None = None


def escape_label(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def _escape_help(text: str, openmetrics: bool) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    return text.replace('"', '\\"') if openmetrics else text


def format_value(value: float) -> str:
    """Integers without a fraction (``42``), other floats as Python's shortest repr, ``+Inf``/``NaN``."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def label_prefix(names: Sequence[str], values: Sequence[str]) -> str:
    """``a="1",b="2"`` for an item's labels (escaped once per item); empty values are left out.

    Prometheus treats an empty label as an absent one, so leaving them out changes no query and
    spares the bytes of every allowlisted label a container does not carry.
    """
    return ",".join(f'{n}="{escape_label(v)}"' for n, v in zip(names, values, strict=True) if v)


def _declared(spec: MetricSpec[Any], openmetrics: bool) -> tuple[str, str]:
    """(family name, type) as declared in ``# TYPE``."""
    if spec.type == COUNTER:
        if not openmetrics:
            return spec.name, "counter"
        if spec.name.endswith("_total"):
            return spec.name[: -len("_total")], "counter"
        return spec.name, "unknown"
    if spec.type == GAUGE:
        return spec.name, "gauge"
    return spec.name, "unknown" if openmetrics else "untyped"


class LabelCache:
    """Rendered label sets kept from one build to the next: a container's labels do not change between
    sweeps, so each set is escaped and joined once, then looked up. Bounded: a build keeps only the
    sets it used."""

    def __init__(self) -> None:
        self._old: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}
        self._new: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}

    def get(self, names: tuple[str, ...], values: tuple[str, ...]) -> str:
        key = (names, values)
        found = self._new.get(key)
        if found is None:
            found = self._old.get(key)
            if found is None:
                found = label_prefix(names, values)
            self._new[key] = found
        return found

    def turn(self) -> None:
        """End of a build: what was not used in it is forgotten at the next turn."""
        self._old, self._new = self._new, {}


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family of a build: its row and its series lines, in blocks of ``BLOCK`` items' lines (no
    block: the family is left out). A block is the unit that is deflated again when it changes."""

    spec: MetricSpec[Any]
    blocks: tuple[str, ...]

    @property
    def lines(self) -> str:
        return "".join(self.blocks)


def _chunks(table: Sequence[MetricSpec[Any]], prefix: str, item: Any, labels_of: Callable[..., str],
            only: Sequence[int] | None = None) -> list[str]:
    """The series lines of one item, one string per row of ``table`` (only the rows ``only`` names, if given)."""
    out: list[str] = []
    for i in range(len(table)) if only is None else only:
        spec = table[i]
        name = spec.name
        lines = []
        for extra, value in spec.getter(item):
            if extra:
                extras = labels_of(spec.labels, extra)
                labels = f"{prefix},{extras}" if prefix else extras
            else:
                labels = prefix
            v = format_value(float(value))
            lines.append(f"{name}{{{labels}}} {v}\n" if labels else f"{name} {v}\n")
        out.append("".join(lines))
    return out


def _columns(table: Sequence[MetricSpec[Any]], per_item: Sequence[Sequence[str]], last: list[list[str]] | None,
             dirty: set[int] | None) -> Iterable[tuple[int, list[str]]]:
    """(row, its blocks of ``BLOCK`` items' lines) for each row of ``table`` from each item's lines (``per_item``).

    With ``last`` (the last build's blocks, the items in the same order), a block none of whose items is in
    ``dirty`` is the last build's string, and a row none of whose blocks changed is the last build's list.
    Volatile rows are made anew.
    """
    starts = range(0, len(per_item), BLOCK)
    for i, spec in enumerate(table):
        before = last[i] if last is not None and not spec.volatile else None
        if before is not None and not dirty:
            yield i, before
            continue
        yield i, ["".join([chunks[i] for chunks in per_item[k:k + BLOCK]])
                  if before is None or dirty is None or k // BLOCK in dirty else before[k // BLOCK] for k in starts]


def _nonempty(blocks: list[str]) -> tuple[str, ...]:
    return tuple(b for b in blocks if b)


def _header(spec: MetricSpec[Any], openmetrics: bool) -> str:
    family, kind = _declared(spec, openmetrics)
    head = f"# HELP {family} {_escape_help(spec.help, openmetrics)}\n# TYPE {family} {kind}\n"
    if openmetrics and spec.unit and family.endswith("_" + spec.unit):
        head += f"# UNIT {family} {spec.unit}\n"
    return head


BLOCK = 16  # items per block: about 3 KiB of lines, deflated at nearly the ratio of the whole
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, mtime 0, unknown OS
_DEFLATE_END = b"\x03\x00"  # an empty final block


class Renderer:
    """Renders sections into families and families into the exposition's bytes, keeping what did not change.

    Three things are kept from one build to the next, each holding only what the last build used:
    rendered label sets (``LabelCache``); for a section with a ``key``, each item's series lines with
    its key (an item whose key is equal to the last build's reuses its lines, but for ``volatile``
    rows; a block of items that all did, in the same order, is the last build's string, and a family none
    of whose blocks changed the last build's very object); and per variant, each block's encoded and
    deflated bytes, reused while its lines are the same. So a build costs in proportion to what changed
    since the last one, and gzip compresses only the blocks that changed (each block deflated on its own,
    the pieces joined into one gzip member).
    Not thread-safe: the caller holds a lock.
    """

    def __init__(self, level: int = 1) -> None:
        self.level = level
        self.labels = LabelCache()
        self._items: dict[int, dict[tuple[str, ...], tuple[object, list[str]]]] = {}
        # per keyed table: the items' label values in order, its families, and their blocks (empty ones kept)
        self._families: dict[int, tuple[tuple[tuple[str, ...], ...], list[Family], list[list[str]]]] = {}
        self._units: dict[bool, dict[str, tuple[tuple[str, ...], tuple[bytes, ...]]]] = {}
        self._pieces: dict[bool, dict[tuple[str, int], tuple[bytes, bytes]]] = {}

    def families(self, sections: Iterable[Section]) -> list[Family]:
        """Every family of the sections, in order (families without a series included, with empty lines)."""
        labels_of = self.labels.get
        out: list[Family] = []
        for section in sections:
            table = section.table
            item_labels = section.item_labels
            key_of = section.key
            old = self._items.get(id(table), {}) if key_of is not None else {}
            new: dict[tuple[str, ...], tuple[object, list[str]]] = {}
            volatile = [i for i, spec in enumerate(table) if spec.volatile]
            per_item: list[list[str]] = []
            dirty: set[int] = set()  # blocks holding an item whose lines were made anew (volatile rows aside)
            for base, item in section.items:
                prefix = labels_of(item_labels, base)
                if key_of is None:
                    per_item.append(_chunks(table, prefix, item, labels_of))
                    continue
                key = key_of(item)
                found = old.get(base)
                if found is not None and found[0] == key:
                    chunks = found[1]
                    if volatile:
                        chunks = list(chunks)
                        for i, text in zip(volatile, _chunks(table, prefix, item, labels_of, volatile), strict=True):
                            chunks[i] = text
                else:
                    chunks = _chunks(table, prefix, item, labels_of)
                    dirty.add(len(per_item) // BLOCK)
                new[base] = (key, chunks)
                per_item.append(chunks)
            if key_of is None:
                out.extend(Family(table[i], _nonempty(blocks)) for i, blocks in _columns(table, per_item, None, None))
                continue
            self._items[id(table)] = new
            bases = tuple(new)
            last = self._families.get(id(table))
            same = last is not None and last[0] == bases and len(new) == len(section.items)
            families: list[Family] = []
            raw: list[list[str]] = []
            for i, blocks in _columns(table, per_item, last[2] if same and last is not None else None, dirty):
                if same and last is not None and blocks is last[2][i]:
                    families.append(last[1][i])  # not one of its blocks changed: the last build's very object
                else:
                    families.append(Family(table[i], _nonempty(blocks)))
                raw.append(blocks)
            self._families[id(table)] = (bases, families, raw)
            out.extend(families)
        return out

    def turn(self) -> None:
        """End of a build's families: label sets not used in it are forgotten at the next turn."""
        self.labels.turn()

    def _encoded(self, families: Sequence[Family], openmetrics: bool) -> list[tuple[str, tuple[bytes, ...]]]:
        """(family name, its header and blocks encoded) of each family with series, reusing the last encoding."""
        old = self._units.get(openmetrics, {})
        new: dict[str, tuple[tuple[str, ...], tuple[bytes, ...]]] = {}
        out = []
        for fam in families:
            if not fam.blocks:
                continue
            name = fam.spec.name
            found = old.get(name)
            if found is None or found[0] != fam.blocks:
                head = found[1][0] if found is not None else _header(fam.spec, openmetrics).encode("utf-8")
                found = (fam.blocks, (head, *(b.encode("utf-8") for b in fam.blocks)))
            new[name] = found
            out.append((name, found[1]))
        self._units[openmetrics] = new
        return out

    def text(self, families: Sequence[Family], openmetrics: bool = False) -> bytes:
        """The exposition as text 0.0.4 or OpenMetrics (ending with ``# EOF``)."""
        body = b"".join([piece for _, pieces in self._encoded(families, openmetrics) for piece in pieces])
        return body + b"# EOF\n" if openmetrics else body

    def gzip(self, families: Sequence[Family], openmetrics: bool = False) -> bytes:
        """``text(families, openmetrics)`` gzipped, deflating only the blocks whose bytes changed.

        One deflate stream is used for the blocks that changed, with a full flush after each: a full flush
        ends on a byte boundary and resets the history, so each block's output stands alone and may be
        joined with blocks deflated at other builds into one valid stream.
        """
        old = self._pieces.get(openmetrics, {})
        new: dict[tuple[str, int], tuple[bytes, bytes]] = {}
        parts = [_GZIP_HEADER]
        crc = size = 0
        units = self._encoded(families, openmetrics)
        if openmetrics:
            units.append(("", (b"# EOF\n",)))
        deflate = None
        for name, pieces in units:
            for j, piece in enumerate(pieces):
                key = (name, j)
                found = old.get(key)
                if found is None or found[0] != piece:
                    if deflate is None:
                        deflate = zlib.compressobj(self.level, zlib.DEFLATED, -15)
                    found = (piece, deflate.compress(piece) + deflate.flush(zlib.Z_FULL_FLUSH))
                new[key] = found
                parts.append(found[1])
                crc = zlib.crc32(piece, crc)
                size += len(piece)
        self._pieces[openmetrics] = new
        parts.append(_DEFLATE_END)
        parts.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
        return b"".join(parts)


def render(sections: Iterable[Section], openmetrics: bool = False, cache: LabelCache | None = None) -> bytes:
    """The exposition of every section, in order; OpenMetrics ends with ``# EOF`` (one-off: nothing is kept)."""
    renderer = Renderer()
    if cache is not None:
        renderer.labels = cache
    return renderer.text(renderer.families(sections), openmetrics)
