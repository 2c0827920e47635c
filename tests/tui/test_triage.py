"""The triage-first list's pure parts: problems and their rank, STATE words, CPU against the limit,
columns that fit the width, groups, and bulk action plans."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from observe.engine.inspect import from_inspect
from observe.stats.sample import Sample
from observe.stats.snapshot import ContainerStats
from tests.tui.fakecore import DOCS, ENGINE_INFO, NOW
from tui.actions import ActionTracker, Batch, plan
from tui.layout import CELL_PADDING, ESSENTIAL, fit_columns
from tui.rows import COLUMN_KEYS, COLUMNS, STANDALONE, Row, filter_rows, group_rows, make_row, sort_rows
from tui.triage import NO_PROBLEM_RANK, PROBLEMS, fmt_cpu, problem, problem_rank, state_label, throttled_fraction

PRIORITY = {c.key: c.priority for c in COLUMNS}


def row(name: str, **kw: Any) -> Row:
    base: dict[str, Any] = {"id": name * 4, "name": name, "service": name, "image": "img:1", "state": "running",
                            "health": "", "restarts": 0, "uptime": 10.0}
    return Row(**{**base, **kw})


rows_strategy = st.lists(
    st.builds(row, st.text("abcxyz", min_size=1, max_size=4),
              cpu=st.none() | st.floats(0, 400), state=st.sampled_from(["running", "exited", "restarting", "dead"]),
              health=st.sampled_from(["", "healthy", "unhealthy"]), exit_code=st.sampled_from([0, 1, 137]),
              oom_killed=st.booleans(), group=st.sampled_from(["shop/web", "shop/db", ""])),
    max_size=20,
)


def test_problems_are_oom_exited_non_zero_restarting_and_unhealthy() -> None:
    assert problem("exited", "", 137, True) == "oom"
    assert problem("running", "", 0, True) == "oom", "restarted after an OOM kill: the flag still says so"
    assert problem("exited", "", 1, False) == "exited"
    assert problem("dead", "", 0, False) == "exited"
    assert problem("exited", "", 0, False) == "", "a job that finished well is no problem"
    assert problem("restarting", "", 0, False) == "restarting"
    assert problem("running", "unhealthy", 0, False) == "unhealthy"
    assert problem("running", "healthy", 0, False) == "" and problem("paused", "starting", 0, False) == ""
    assert [problem_rank(p) for p in PROBLEMS] == [0, 1, 2, 3] and problem_rank("") == NO_PROBLEM_RANK


def test_state_says_exit_code_restarts_health_and_oom() -> None:
    assert state_label("exited", "", 137, True, 0) == "exited (137) OOM"
    assert state_label("exited", "", 0, False, 0) == "exited (0)"
    assert state_label("restarting", "", 1, False, 3) == "restarting (3)"
    assert state_label("running", "unhealthy", 0, False, 2) == "running (unhealthy)"
    assert state_label("running", "", 0, False, 0) == "running"


@given(rows_strategy, st.sampled_from(COLUMN_KEYS), st.booleans())
def test_problems_first_puts_the_worst_first_and_keeps_the_column_order_within(rows: list[Row], key: str,
                                                                               descending: bool) -> None:
    out = sort_rows(rows, key, descending, problems_first=True)
    plain = sort_rows(rows, key, descending)
    assert sorted(map(id, out)) == sorted(map(id, rows))
    ranks = [r.problem_rank for r in out]
    assert ranks == sorted(ranks)
    for rank in set(ranks):
        assert [r for r in out if r.problem_rank == rank] == [r for r in plain if r.problem_rank == rank]


@given(rows_strategy)
def test_the_problems_word_keeps_exactly_the_problems(rows: list[Row]) -> None:
    assert filter_rows(rows, "problems") == [r for r in rows if r.problem]
    assert filter_rows(rows, "!problems") == [r for r in rows if not r.problem]
    assert filter_rows(rows, "problems !problems") == []


@given(rows_strategy)
def test_standalone_containers_share_one_group_ranked_by_its_best_member(rows: list[Row]) -> None:
    sorted_rows = sort_rows(rows, "cpu", True)
    groups = group_rows(sorted_rows)
    assert len([g for g in groups if g.title == STANDALONE]) == (1 if any(r.group == "" for r in rows) else 0)
    assert [g.key for g in groups] == sorted({r.group for r in rows}, key=lambda k: next(
        i for i, r in enumerate(sorted_rows) if r.group == k))
    assert [r for g in groups for r in g.rows] == sorted(sorted_rows, key=lambda r: [g.key for g in groups].index(
        r.group))


def sample(t: float, cpu: float, periods: int | None, throttled: int | None) -> Sample:
    return Sample(time=t, monotonic=t, cpu_usage_seconds=cpu, cpu_cfs_periods=periods,
                  cpu_cfs_throttled_periods=throttled, spec_cpu_quota_us=50_000, spec_cpu_period_us=100_000)


def test_cpu_is_shown_against_the_limit_with_throttling() -> None:
    info = from_inspect({**DOCS[0], "HostConfig": {**DOCS[0]["HostConfig"], "NanoCpus": 500_000_000}}, ENGINE_INFO)
    history = (sample(0, 10.0, 100, 10), sample(1, 10.45, 110, 14))
    r = make_row(info, ContainerStats(info, history[-1], history), NOW)
    assert r.cpu_limit == 0.5 and r.cpu is not None and abs(r.cpu - 45.0) < 1e-6
    assert r.cpu_load is not None and abs(r.cpu_load - 90.0) < 1e-6, "percent of the limit, what it sorts by"
    assert r.throttled == 0.4
    assert fmt_cpu(r.cpu, r.cpu_limit, r.throttled) == "90% of 0.5 thr 40%"
    assert fmt_cpu(12.34, None, None) == "12.3%" and fmt_cpu(None, 0.5, None) == "-"
    unlimited = make_row(from_inspect(DOCS[1], ENGINE_INFO), None, NOW)
    assert unlimited.cpu_limit is None


@given(st.lists(st.integers(0, 10**6), min_size=0, max_size=4), st.lists(st.integers(0, 10**6), max_size=4))
def test_throttled_share_is_a_fraction_or_unknown(periods: list[int], throttled: list[int]) -> None:
    share = throttled_fraction(periods, throttled)
    assert share is None or 0.0 <= share <= 1.0
    if len(periods) < 2 or len(throttled) < 2 or periods[-1] <= periods[0]:
        assert share is None
    assert throttled_fraction([None, 5], [0, 1]) is None


widths_strategy = st.fixed_dictionaries({k: st.integers(4, 30) for k in COLUMN_KEYS})


@given(widths_strategy, st.integers(20, 250))
def test_columns_drop_by_priority_and_the_essential_ones_stay(widths: dict[str, int], available: int) -> None:
    kept, name_width = fit_columns(COLUMN_KEYS, PRIORITY, widths, available)
    assert set(ESSENTIAL) <= set(kept)
    assert kept == [k for k in COLUMN_KEYS if k in kept], "table order is kept"
    hidden = [k for k in COLUMN_KEYS if k not in kept]
    assert all(PRIORITY[h] > PRIORITY[k] for h in hidden for k in kept if k not in ESSENTIAL)
    used = sum(widths[k] + CELL_PADDING for k in kept)
    if name_width is None:
        assert used <= available or kept == list(k for k in COLUMN_KEYS if k in ESSENTIAL)
    else:
        assert kept == [k for k in COLUMN_KEYS if k in ESSENTIAL] and name_width < widths["name"]
    wider, _ = fit_columns(COLUMN_KEYS, PRIORITY, widths, available + 40)
    assert set(kept) <= set(wider), "a wider terminal never shows fewer columns"


def test_at_80_columns_name_state_cpu_and_memory_fit() -> None:
    widths = {"name": 22, "service": 14, "image": 30, "state": 19, "cpu": 18, "history": 12, "memory": 16,
              "rx": 8, "tx": 8, "restarts": 8, "uptime": 6}
    kept, name_width = fit_columns(COLUMN_KEYS, PRIORITY, widths, 78)
    assert kept == ["name", "state", "cpu", "memory"] and name_width == 17


def infos() -> list[Any]:
    return [from_inspect(d, ENGINE_INFO) for d in DOCS]


def test_a_bulk_plan_applies_where_the_state_allows_and_says_what_is_skipped() -> None:
    chosen = plan("stop", "3 marked containers", [c for c in infos() if c.name in ("shop-api-1", "shop-api-2",
                                                                                    "shop-cron-1")])
    assert [c.name for c in chosen.apply] == ["shop-api-1", "shop-api-2"]
    assert [c.name for c in chosen.skipped] == ["shop-cron-1"]
    question = chosen.question()
    assert question.startswith("Stop 3 marked containers: 2 containers (shop-api-1, shop-api-2)?")
    assert "Skipped, stop does not apply: shop-cron-1 (exited)" in question
    assert "force" in plan("remove", "service shop/api", infos()[:2]).question()
    batch = Batch(chosen)
    assert not batch.done("shop-api-1", "")
    assert batch.done("shop-api-2", "the engine refused: boom\nmore")
    assert batch.summary() == ("stop 3 marked containers: 1 ok, 1 failed (shop-api-2: the engine refused: boom); "
                               "skipped shop-cron-1 (exited)")


def test_the_tracker_shows_pending_then_the_outcome_for_a_while() -> None:
    now = [100.0]
    tracker = ActionTracker(clock=lambda: now[0], keep=15)
    tracker.start("a", "stop")
    assert tracker.pending("a") == "stop" and tracker.outcome("a") is None and tracker.busy()
    tracker.finish("a", "stop", "the engine refused: no\nsecond line")
    assert tracker.pending("a") is None
    done = tracker.outcome("a")
    assert done is not None and not done.ok and done.error == "the engine refused: no"
    now[0] += 16
    assert tracker.outcome("a") is None, "an old outcome is no longer shown"


def test_inspect_reads_the_oom_kill() -> None:
    doc = {**DOCS[4], "State": {**DOCS[4]["State"], "OOMKilled": True, "ExitCode": 137}}
    info = from_inspect(doc, ENGINE_INFO)
    assert info.oom_killed and info.exit_code == 137
    assert not from_inspect(DOCS[4], ENGINE_INFO).oom_killed
