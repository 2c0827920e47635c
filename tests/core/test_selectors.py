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
