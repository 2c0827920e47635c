"""The inspect pane as data: readable tables from an inspect document, secrets masked. Pure, no Textual."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

MASK = "••••••"
_SECRET = re.compile(r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|auth|_key$|^key$)",
                     re.IGNORECASE)


_URL_CREDENTIALS = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/@:\s]*:)(?P<secret>[^/@\s]+)(?=@)", re.IGNORECASE)
_TOKENS = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}"
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{35}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"
)
"""Values shaped like well-known credentials (GitHub, GitLab, Stripe, AWS key ids, Slack, Google, JWTs)."""
_SECRET_FLAG = re.compile(r"(?P<head>--?[\w.-]*(?:pass(?:word|wd)?|secret|token|api[_-]?key|credential)[\w.-]*[=:])"
                          r"(?P<secret>\S+)", re.IGNORECASE)
COMMAND_KEYS = frozenset({"Cmd", "Entrypoint", "Args"})


def looks_secret(name: str) -> bool:
    """True for variable names that usually hold secrets (``DB_PASSWORD``, ``API_KEY``, ``GITHUB_TOKEN`` ...)."""
    return bool(_SECRET.search(name))


def mask_text(text: str) -> str:
    """``text`` with the secrets inside it masked: URL passwords (``postgres://u:pw@h``), token-shaped
    values (``ghp_…``, ``sk_live_…``, ``AKIA…``) and ``--password=…``-style arguments."""
    text = _URL_CREDENTIALS.sub(lambda m: m.group("head") + MASK, text)
    text = _TOKENS.sub(MASK, text)
    return _SECRET_FLAG.sub(lambda m: m.group("head") + MASK, text)


def mask_value(name: str, value: str) -> str:
    """A named value as shown while secrets are hidden: all of it for a secret-looking name, else its secret parts."""
    return MASK if looks_secret(name) else mask_text(value)


def mask_command(argv: list[Any]) -> list[Any]:
    """A command line with secret arguments masked, including the word after ``--password`` / ``--token``."""
    out: list[Any] = []
    hide_next = False
    for arg in argv:
        if not isinstance(arg, str):
            out.append(arg)
            continue
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        out.append(mask_text(arg))
        hide_next = arg.startswith("-") and "=" not in arg and looks_secret(arg.lstrip("-"))
    return out


def env_rows(doc: Mapping[str, Any], reveal: bool = False) -> list[tuple[str, str]]:
    """(name, value) of the container's environment; secret-looking values masked unless ``reveal``."""
    rows: list[tuple[str, str]] = []
    for item in (doc.get("Config") or {}).get("Env") or []:
        name, _, value = str(item).partition("=")
        rows.append((name, value if reveal else mask_value(name, value)))
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


def label_rows(doc: Mapping[str, Any], reveal: bool = True) -> list[tuple[str, str]]:
    """(label, value), sorted; secret-looking values masked unless ``reveal``."""
    labels = ((doc.get("Config") or {}).get("Labels") or {}).items()
    return sorted((str(k), str(v) if reveal else mask_value(str(k), str(v))) for k, v in labels)


def masked_document(doc: Any, reveal: bool = False) -> Any:
    """The document with its secrets masked (a copy; the input is unchanged): environment values and
    labels with secret-looking names, and everywhere URL passwords, token-shaped values and secret
    command arguments."""
    if reveal:
        return doc
    if isinstance(doc, Mapping):
        out: dict[str, Any] = {}
        for k, v in doc.items():
            if k == "Env" and isinstance(v, list):
                out[k] = [_mask_env(str(item)) for item in v]
            elif k in COMMAND_KEYS and isinstance(v, list):
                out[k] = mask_command(v)
            elif k == "Labels" and isinstance(v, Mapping):
                out[k] = {str(name): mask_value(str(name), str(value)) for name, value in v.items()}
            else:
                out[k] = masked_document(v, reveal)
        return out
    if isinstance(doc, list):
        return [masked_document(v, reveal) for v in doc]
    if isinstance(doc, str):
        return mask_text(doc)
    return doc


def _mask_env(item: str) -> str:
    name, sep, value = item.partition("=")
    return f"{name}={mask_value(name, value)}" if sep else item


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
