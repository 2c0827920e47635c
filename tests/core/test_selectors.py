from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from observe.selectors import LabelSelector, Selection, image_candidates

LABELS = {"app": "web", "tier": "front", "canary": ""}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("tier!=front", False),
        ("canary", True),
        ("!canary", False),
        ("!legacy", True),
        ("legacy", False),
        ("app=web,tier!=db,canary", True),
        ("app=web,tier=db", False),
        ("missing!=x", True),
        ("", True),
    ],
)
def test_label_selector(selector: str, expected: bool) -> None:
    assert LabelSelector.parse(selector).matches(LABELS) is expected


@pytest.mark.parametrize("bad", ["app=web,", ",", "a b=1", "=x", "!", "a=b=c"])
def test_label_selector_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        LabelSelector.parse(bad)


def test_name_and_image_globs() -> None:
    sel = Selection(names=("web-*", "!web-canary*"), images=("observe-test/*",))
    assert sel.matches("web-1", "observe-test/busybox:1", {})
    assert sel.matches("/web-1", "observe-test/busybox", {})
    assert not sel.matches("web-canary-1", "observe-test/busybox:1", {})
    assert not sel.matches("db-1", "observe-test/busybox:1", {})
    assert not sel.matches("web-1", "nginx:1.27", {})
    only_excl = Selection(images=("!nginx*",))
    assert only_excl.matches("x", "redis:7", {}) and not only_excl.matches("x", "nginx:1", {})
    assert Selection(images=("redis:7",)).matches("x", "redis:7", {})
    assert not Selection(images=("redis:6",)).matches("x", "redis:7", {})


def test_image_candidates_keep_registry_port() -> None:
    assert image_candidates("reg:5000/app:1.2") == ("reg:5000/app:1.2", "reg:5000/app")
    assert image_candidates("reg:5000/app") == ("reg:5000/app",)


keys = st.from_regex(r"[a-z][a-z0-9._/-]{0,10}[a-z0-9]", fullmatch=True)
values = st.from_regex(r"[a-z0-9._-]{0,8}", fullmatch=True)


@given(st.dictionaries(keys, values, max_size=5), keys, values)
def test_selector_round_trip_and_semantics(labels: dict[str, str], key: str, value: str) -> None:
    eq = LabelSelector.parse(f"{key}={value}")
    ne = LabelSelector.parse(f"{key}!={value}")
    assert eq.matches(labels) != ne.matches(labels)
    assert LabelSelector.parse(key).matches(labels) != LabelSelector.parse("!" + key).matches(labels)
    assert LabelSelector.parse(str(eq)) == eq


_KEYS = st.sampled_from(["app", "tier", "name", "image", "exitCode", "execID", "signal"])
_VALUES = st.sampled_from(["", "web", "db", "x"])


def _event_attributes(labels: dict[str, str], extra: dict[str, str], name: str, image: str) -> dict[str, str]:
    """What the engine puts on a container event: the event's own keys, the labels over them, name and image last."""
    return {**extra, **labels, "image": image, "name": name}


@given(
    labels=st.dictionaries(_KEYS, _VALUES, max_size=4),
    extra=st.dictionaries(_KEYS, _VALUES, max_size=3),
    name=st.sampled_from(["web-1", "db-1", "other"]),
    image=st.sampled_from(["busybox:1", "nginx:latest", "reg:5000/app"]),
    clauses=st.lists(st.tuples(_KEYS, st.sampled_from(["exists", "!exists", "=", "!="]), _VALUES), max_size=3),
    names=st.lists(st.sampled_from(["web-*", "!db-*", "*"]), max_size=2),
    images=st.lists(st.sampled_from(["busybox", "!nginx", "reg:5000/*"]), max_size=2),
)
def test_rules_out_only_what_the_selection_cannot_take(labels: dict[str, str], extra: dict[str, str], name: str,
                                                       image: str, clauses: list[tuple[str, str, str]],
                                                       names: list[str], images: list[str]) -> None:
    """The inventory skips the inspect of a container whose event is ruled out: it must never rule out a match,
    whatever event keys (``exitCode``, ``execID``) stand beside the labels or which labels the engine overwrote."""
    selector = ",".join(k if op == "exists" else "!" + k if op == "!exists" else f"{k}{op}{v}" for k, op, v in clauses)
    sel = Selection(LabelSelector.parse(selector), tuple(names), tuple(images))
    if sel.rules_out(_event_attributes(labels, extra, name, image)):
        assert not sel.matches(name, image, labels)


def test_rules_out_what_the_attributes_prove() -> None:
    attrs = _event_attributes({"tier": "db"}, {"exitCode": "0"}, "db-1", "busybox:1")
    assert Selection(LabelSelector.parse("tier=web")).rules_out(attrs)
    assert Selection(LabelSelector.parse("app")).rules_out(attrs)
    assert Selection(names=("web-*",)).rules_out(attrs)
    assert Selection(images=("!busybox",)).rules_out(attrs)
    assert not Selection(LabelSelector.parse("tier=db")).rules_out(attrs)
    assert not Selection(LabelSelector.parse("!exitCode")).rules_out(attrs)  # the event's key, not a label
    assert not Selection(LabelSelector.parse("name=x")).rules_out(attrs)  # the engine overwrote such a label
    assert not Selection(LabelSelector.parse("app")).rules_out({"tier": "db"})  # no name/image: undecided
