"""``Sample``'s constructor, which stores through the slots' descriptors instead of the generated frozen one."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
from hypothesis import given
from hypothesis import strategies as st

from observe.stats.sample import Sample, stored_through_slots

FIELDS = dataclasses.fields(Sample)


def test_signature_and_defaults_are_the_dataclass_ones() -> None:
    params = list(inspect.signature(Sample).parameters.values())
    assert [p.name for p in params] == [f.name for f in FIELDS]
    assert all(p.default is (inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default)
               for p, f in zip(params, FIELDS, strict=True))


@given(st.dictionaries(st.sampled_from([f.name for f in FIELDS[2:]]), st.integers() | st.none()),
       st.floats(allow_nan=False), st.floats(allow_nan=False))
def test_fields_hold_what_was_given_and_stay_frozen(given_fields: dict[str, int | None], t: float, m: float) -> None:
    s = Sample(t, m, **given_fields)  # type: ignore[arg-type]
    assert (s.time, s.monotonic) == (t, m)
    assert all(getattr(s, f.name) == given_fields.get(f.name) for f in FIELDS[2:])
    assert s == Sample(time=t, monotonic=m, **given_fields) and hash(s) == hash(dataclasses.replace(s))  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.time = 0.0  # type: ignore[misc]


def test_positional_and_missing_arguments_fail_as_before() -> None:
    with pytest.raises(TypeError):
        Sample(1.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Sample(1.0, 2.0, nonsense=1)  # type: ignore[call-arg]


def test_classes_with_a_default_factory_are_left_alone() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class WithFactory:
        items: list[int] = dataclasses.field(default_factory=list)

    init = WithFactory.__init__
    assert stored_through_slots(WithFactory).__init__ is init
    assert WithFactory().items == []
