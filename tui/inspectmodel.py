"""The inspect pane as data: readable tables from an inspect document, secrets masked. Pure, no Textual."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

MASK = "••••••"
_SECRET = re.compile(r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|auth|_key$|^key$)",
                     re.IGNORECASE)


def looks_secret(name: str) -> bool:
    """True for variable names that usually hold secrets (``DB_PASSWORD``, ``API_KEY``, ``GITHUB_TOKEN`` ...)."""
    return bool(_SECRET.search(name))


def env_rows(doc: Mapping[str, Any], reveal: bool = False) -> list[tuple[str, str]]:
    """(name, value) of the container's environment; secret-looking values masked unless ``reveal``."""
    rows: list[tuple[str, str]] = []
    for item in (doc.get("Config") or {}).get("Env") or []:
        name, _, value = str(item).partition("=")
        rows.append((name, value if reveal or not looks_secret(name) else MASK))
    return rows


def port_rows(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(container port, host bindings) from ``NetworkSettings.Ports`` (or ``Config.ExposedPorts`` alone)."""
    ports = (doc.get("NetworkSettings") or {}).get("Ports") or {}
    rows: list[tuple[str, str]] = []
    for port, bindings in sorted(ports.items()):
        published = ", ".join(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}" for b in bindings or [])
        rows.append((port, published or "not published"))
    for port in sorted((doc.get("Config") or {}).get("ExposedPorts") or {}):
        if port not in ports:
            rows.append((port, "exposed"))
    return rows


def mount_rows(doc: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(type, source, destination, mode) of each mount."""
    return [
        (str(m.get("Type", "")), str(m.get("Source") or m.get("Name") or ""), str(m.get("Destination", "")),
         "rw" if m.get("RW", True) else "ro")
        for m in doc.get("Mounts") or []
    ]


def label_rows(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    return sorted((str(k), str(v)) for k, v in ((doc.get("Config") or {}).get("Labels") or {}).items())


def masked_document(doc: Any, reveal: bool = False) -> Any:
    """The document with secret-looking environment values masked (a copy; the input is unchanged)."""
    if reveal:
        return doc
    if isinstance(doc, Mapping):
        out: dict[str, Any] = {}
        for k, v in doc.items():
            if k == "Env" and isinstance(v, list):
                out[k] = [_mask_env(str(item)) for item in v]
            else:
                out[k] = masked_document(v, reveal)
        return out
    if isinstance(doc, list):
        return [masked_document(v, reveal) for v in doc]
    return doc


def _mask_env(item: str) -> str:
    name, sep, _ = item.partition("=")
    return f"{name}={MASK}" if sep and looks_secret(name) else item


def walk(doc: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, leaf value) of a document, in order; lists indexed as ``[i]``."""
    if isinstance(doc, Mapping):
        if not doc:
            yield path, {}
        for k, v in doc.items():
            yield from walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(doc, list):
        if not doc:
            yield path, []
        for i, v in enumerate(doc):
            yield from walk(v, f"{path}[{i}]")
    else:
        yield path, doc


def matching_paths(doc: Any, needle: str) -> list[str]:
    """Paths whose name or value contains ``needle`` (case-insensitive)."""
    low = needle.lower()
    return [p for p, v in walk(doc) if low in p.lower() or low in str(v).lower()]
