"""Container selection: label selectors (Kubernetes syntax) and name/image globs.

The same selection applies everywhere (ps, logs, metrics, the TUI), so it lives in the core
and works on plain name/image/label values rather than on Docker objects.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

_KEY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Requirement:
    """One clause of a label selector: ``key``, ``!key``, ``key=value`` or ``key!=value``."""

    key: str
    op: str  # "exists", "!exists", "=", "!="
    value: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op == "=":
            return labels.get(self.key) == self.value
        return labels.get(self.key) != self.value

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!exists":
            return "!" + self.key
        return f"{self.key}{self.op}{self.value}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A conjunction of requirements, parsed from ``app=web,tier!=db,canary,!legacy``."""

    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        """Parse a selector.

        Raises:
            ValueError: a clause is empty or its key is not a valid label key.
        """
        reqs: list[Requirement] = []
        if not text.strip():
            return cls(())
        for raw in text.split(","):
            clause = raw.strip()
            if not clause:
                raise ValueError(f"empty clause in label selector {text!r}")
            if "!=" in clause:
                key, value = clause.split("!=", 1)
                op = "!="
            elif "=" in clause:
                key, value = clause.split("==", 1) if "==" in clause else clause.split("=", 1)
                op = "="
            elif clause.startswith("!"):
                key, value, op = clause[1:], "", "!exists"
            else:
                key, value, op = clause, "", "exists"
            key = key.strip()
            if not _KEY.match(key):
                raise ValueError(f"invalid label key {key!r} in label selector {text!r}")
            if op in ("=", "!=") and ("=" in value or "!" in value[:1]):
                raise ValueError(f"invalid value {value!r} in label selector {text!r}")
            reqs.append(Requirement(key, op, value.strip()))
        return cls(tuple(reqs))

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _split_globs(globs: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    include = tuple(g for g in globs if not g.startswith("!"))
    exclude = tuple(g[1:] for g in globs if g.startswith("!"))
    return include, exclude


def _glob_ok(candidates: Sequence[str], globs: Sequence[str]) -> bool:
    include, exclude = _split_globs(globs)
    if include and not any(fnmatch.fnmatchcase(c, g) for c in candidates for g in include):
        return False
    return not any(fnmatch.fnmatchcase(c, g) for c in candidates for g in exclude)


def image_candidates(image: str) -> tuple[str, ...]:
    """The spellings an image glob may match: ``repo:tag`` and ``repo`` alone."""
    repo = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return (image, repo) if repo != image else (image,)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which containers a command works on.

    Name and image globs are repeatable; a glob starting with ``!`` excludes. With no
    including glob every name (or image) is in; exclusions always win.
    """

    labels: LabelSelector = field(default_factory=LabelSelector)
    names: tuple[str, ...] = ()
    images: tuple[str, ...] = ()

    def matches(self, name: str, image: str, labels: Mapping[str, str]) -> bool:
        return (
            _glob_ok((name.lstrip("/"),), self.names)
            and _glob_ok(image_candidates(image), self.images)
            and self.labels.matches(labels)
        )

    def rules_out(self, attributes: Mapping[str, str]) -> bool:
        """True when an engine event's attributes prove that this selection cannot take the container.

        The engine puts a container's labels on each of its events, then other keys of the event
        (``exitCode``, ``execID``...) unless a label has that key, then its ``name`` and ``image``
        over everything. So a name or image glob that fails, or a label that must exist (``key``,
        ``key=value``) missing or different, proves it; ``!key`` and ``key!=value`` prove nothing (an
        event key may stand where no label is), nor do labels named ``name`` or ``image``. False
        (undecided) when the event lacks the name or the image.
        """
        name, image = attributes.get("name"), attributes.get("image")
        if name is None or image is None:
            return False
        if not _glob_ok((name.lstrip("/"),), self.names) or not _glob_ok(image_candidates(image), self.images):
            return True
        return any(r.op in ("exists", "=") and r.key not in ("name", "image") and not r.matches(attributes)
                   for r in self.labels.requirements)

    @property
    def is_everything(self) -> bool:
        return not (self.labels.requirements or self.names or self.images)
