"""The TUI's pure parts: rows, sorting, filtering, grouping, log filters and search, secret masking."""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from observe.engine.inspect import from_inspect
from observe.model import LEVEL_RANK, LEVELS
from observe.stats.snapshot import ContainerStats
from tests.tui.fakecore import DOCS, ENGINE_INFO, NOW, samples
from tui.inspectmodel import (
    MASK,
    env_rows,
    label_rows,
    looks_secret,
    mask_text,
    masked_document,
    matching_paths,
    port_rows,
)
from tui.logmodel import (
    ENTRY_OVERHEAD,
    LEVEL_FILTERS,
    LogEntry,
    LogHistory,
    LogQuery,
    entry_from_doc,
    find_match,
    next_level,
    render_records,
    search_spans,
)
from tui.panes.events import shown as shown_event
from tui.rows import (
    COLUMN_KEYS,
    Row,
    RowFilter,
    filter_rows,
    fmt_bytes,
    fmt_duration,
    group_rows,
    make_row,
    sort_rows,
    sparkline,
)


def row(name: str, **kw: Any) -> Row:
    base: dict[str, Any] = {"id": name * 4, "name": name, "service": kw.pop("service", name), "image": "img:1",
                            "state": "running", "health": "", "restarts": 0, "uptime": 10.0}
    return Row(**{**base, **kw})


rows_strategy = st.lists(
    st.builds(row, st.text("abcxyz", min_size=1, max_size=4),
              cpu=st.none() | st.floats(0, 400), mem_used=st.none() | st.integers(0, 1 << 34),
              restarts=st.integers(0, 5), service=st.sampled_from(["web", "db", "q"]),
              group=st.sampled_from(["web", "db", ""]),
              state=st.sampled_from(["running", "exited", "paused"])),
    max_size=20,
)


@given(rows_strategy, st.sampled_from(COLUMN_KEYS), st.booleans())
def test_sorting_is_a_permutation_with_unknowns_last(rows: list[Row], key: str, descending: bool) -> None:
    out = sort_rows(rows, key, descending)
    assert sorted(map(id, out)) == sorted(map(id, rows))
    if key == "cpu":
        known = [r.cpu for r in out if r.cpu is not None]
        assert known == sorted(known, reverse=descending)
        assert all(r.cpu is None for r in out[len(known):])


@given(rows_strategy)
def test_grouping_keeps_every_row_once_with_totals(rows: list[Row]) -> None:
    groups = group_rows(rows)
    assert sum(len(g.rows) for g in groups) == len(rows)
    assert [g.key for g in groups] == list(dict.fromkeys(r.group for r in rows)), "groups ranked by best member"
    for g in groups:
        cpus = [r.cpu for r in g.rows if r.cpu is not None]
        assert g.cpu == (sum(cpus) if cpus else None)


def test_filter_words_and_label_selectors() -> None:
    rows = [row("web-1", labels={"tier": "front"}), row("db-1", labels={"tier": "back", "legacy": "1"}),
            row("web-2", labels={}, state="exited")]
    assert [r.name for r in filter_rows(rows, "web")] == ["web-1", "web-2"]
    assert [r.name for r in filter_rows(rows, "WEB", include_stopped=False)] == ["web-1"]
    assert [r.name for r in filter_rows(rows, "tier=front")] == ["web-1"]
    assert [r.name for r in filter_rows(rows, "!legacy web")] == ["web-1", "web-2"]
    assert [r.name for r in filter_rows(rows, "!web")] == ["db-1"], "!word keeps what the word does not match"
    assert [r.name for r in filter_rows(rows, "!db !exited")] == ["web-1"]
    assert [r.name for r in filter_rows(rows, "exited")] == ["web-2"], "state words filter"
    assert [r.name for r in filter_rows(rows, "label:legacy")] == ["db-1"]
    assert [r.name for r in filter_rows(rows, "label:!legacy")] == ["web-1", "web-2"]
    assert [r.name for r in filter_rows(rows, "tier!=front")] == ["db-1", "web-2"]
    assert RowFilter.parse("=oops").error


def test_filter_health_words_match_whole() -> None:
    rows = [row("a", health="healthy"), row("b", health="unhealthy"), row("c")]
    assert [r.name for r in filter_rows(rows, "unhealthy")] == ["b"]
    assert [r.name for r in filter_rows(rows, "healthy")] == ["a"], "healthy is not a part of unhealthy"
    assert [r.name for r in filter_rows(rows, "!unhealthy")] == ["a", "c"]


def test_row_from_samples_has_rates_and_history() -> None:
    info = from_inspect(DOCS[0], ENGINE_INFO)
    history = samples(1, points=5)
    r = make_row(info, ContainerStats(info, history[-1], history), NOW)
    assert r.cpu is not None and r.cpu > 0
    assert len(r.cpu_history) == 4
    assert r.mem_used == history[-1].memory_working_set_bytes and r.mem_limit == 256 << 20
    assert r.rx_rate is not None and r.rx_rate > 0
    assert r.uptime == 90 * 60
    stopped = make_row(from_inspect(DOCS[4], ENGINE_INFO), None, NOW)
    assert stopped.cpu is None and stopped.uptime is None


@given(st.lists(st.floats(0, 1000), max_size=30), st.integers(1, 20))
def test_sparkline_has_one_block_per_value(values: list[float], width: int) -> None:
    line = sparkline(values, width)
    assert len(line) == min(len(values), width)
    if values and max(values[-width:]) > 0:
        assert "█" in line


def test_formats() -> None:
    assert fmt_bytes(None) == "-" and fmt_bytes(512) == "512B" and fmt_bytes(1536) == "1.5KiB"
    assert fmt_bytes(300 << 20) == "300MiB"
    assert fmt_duration(None) == "-" and fmt_duration(75) == "1m15s" and fmt_duration(3 * 86400 + 7200) == "3d2h"


def entry(seq: int, level: str, message: str) -> LogEntry:
    return entry_from_doc(seq, {"message": message, "log.level": level}, seq * 1_000_000_000, level, "stdout")


@given(st.lists(st.sampled_from(LEVELS), max_size=30), st.sampled_from(LEVEL_FILTERS))
def test_level_filter_keeps_that_level_and_above(levels: list[str], minimum: str) -> None:
    entries = [entry(i, lvl, f"m{i}") for i, lvl in enumerate(levels)]
    kept = [e for e in entries if LogQuery.make(minimum).keeps(e)]
    floor = LEVEL_RANK[minimum] if minimum else 0
    assert kept == [e for e in entries if LEVEL_RANK[e.level] >= floor]


def test_level_steps_cycle() -> None:
    seen = [""]
    for _ in LEVEL_FILTERS:
        seen.append(next_level(seen[-1]))
    assert seen == ["", "debug", "info", "warn", "error", ""]


def test_regex_filter_and_bad_pattern() -> None:
    e1, e2 = entry(1, "info", "GET /a 200"), entry(2, "info", "GET /b 500")
    assert [e.seq for e in (e1, e2) if LogQuery.make("", r" 5\d\d$").keeps(e)] == [2]
    bad = LogQuery.make("", "([")
    assert bad.error.startswith("bad regular expression") and bad.keeps(e1)


@given(st.text("abAB ", max_size=30), st.text("abAB", min_size=1, max_size=3))
def test_search_spans_are_case_insensitive_matches(text: str, needle: str) -> None:
    for start, end in search_spans(text, needle):
        assert text[start:end].lower() == needle.lower()
    assert len(search_spans(text, needle)) == (text.lower().count(needle.lower()))


def test_find_match_wraps_both_ways() -> None:
    entries = [entry(i, "info", m) for i, m in enumerate(["x", "hit", "y", "HIT", "z"])]
    assert find_match(entries, "hit", -1, True, False) == 1
    assert find_match(entries, "hit", 1, True, False) == 3
    assert find_match(entries, "hit", 3, True, False) == 1
    assert find_match(entries, "hit", 1, False, False) == 3
    assert find_match(entries, "nothing", 0, True, False) is None


def test_multi_line_records_show_their_first_line_and_count() -> None:
    e = entry_from_doc(1, {"message": "boom", "error.stack_trace": "boom\n  at a\n  at b"}, 0, "error", "stderr")
    assert e.message == "boom" and e.extra_lines == 2 and e.line(False).endswith("[+2 lines]")


def test_secrets_are_masked_until_revealed() -> None:
    doc = DOCS[0]
    assert dict(env_rows(doc))["DB_PASSWORD"] == MASK
    assert dict(env_rows(doc, reveal=True))["DB_PASSWORD"] == "hunter2"
    assert dict(env_rows(doc))["LOG_LEVEL"] == "info"
    masked = masked_document(doc)
    assert "DB_PASSWORD=hunter2" not in masked["Config"]["Env"] and doc["Config"]["Env"][1] == "DB_PASSWORD=hunter2"
    assert all(looks_secret(n) for n in ("API_KEY", "GITHUB_TOKEN", "PGPASSWORD", "client_secret", "AWS_SECRET"))
    assert not any(looks_secret(n) for n in ("PATH", "HOME", "LOG_LEVEL", "KEYBOARD_LAYOUT"))
    assert port_rows(doc) == [("8080/tcp", "127.0.0.1:18080")]
    assert "Config.Env[1]" in matching_paths(masked, "db_password")


SECRET_VALUES = {
    "DATABASE_URL": "postgres://app:pw-in-url-42@db:5432/shop",
    "REDIS": "redis://:redispw99@cache:6379/0",
    "GH": "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4",
    "STRIPE": "sk_live_" + "51HxYzAbCdEfGh1234",
    "AWS_ID": "AKIA" + "ABCDEFGHIJKLMNOP",
    "SESSION": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXBhcnQ",
}


def secret_parts(value: str) -> list[str]:
    return [p for p in ("pw-in-url-42", "redispw99", "A1b2C3d4E5f6", "51HxYzAbCdEfGh", "ABCDEFGHIJKLMNOP",
                        "c2lnbmF0dXJl") if p in value]


def test_secrets_inside_values_labels_and_commands_are_masked_until_revealed() -> None:
    doc = {
        "Path": "app",
        "Args": ["--db", SECRET_VALUES["DATABASE_URL"], "--password", "hunter2", "--api-token=tok123456"],
        "Config": {
            "Env": [f"{k}={v}" for k, v in SECRET_VALUES.items()] + ["HOME=/root"],
            "Cmd": ["app", "--token", "plain-looking-token", "--verbose"],
            "Labels": {"deploy.webhook_secret": "whsec", "ci.url": "https://bot:labelpw77@ci.local/x", "tier": "web"},
        },
    }
    env = dict(env_rows(doc))
    for name in SECRET_VALUES:
        assert not secret_parts(env[name]), f"{name} shows {env[name]!r}"
    assert env["DATABASE_URL"] == f"postgres://app:{MASK}@db:5432/shop", "the rest of a URL stays readable"
    assert env["HOME"] == "/root"
    assert dict(env_rows(doc, reveal=True)) == {**SECRET_VALUES, "HOME": "/root"}
    labels = dict(label_rows(doc, reveal=False))
    assert labels["deploy.webhook_secret"] == MASK and "labelpw77" not in labels["ci.url"] and labels["tier"] == "web"
    masked = masked_document(doc)
    text = json.dumps(masked)
    for secret in ("hunter2", "tok123456", "plain-looking-token", "whsec", "labelpw77", *SECRET_VALUES.values()):
        assert secret not in text, secret
    assert masked["Config"]["Cmd"][-1] == "--verbose" and "--api-token=" in masked["Args"][-1]
    assert masked_document(doc, reveal=True) == doc


@given(st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=20))
def test_a_password_in_any_url_is_masked(secret: str) -> None:
    assert secret not in mask_text(f"amqp://user:{secret}@mq:5672/vhost")


def test_history_is_bounded_by_count_and_by_memory() -> None:
    by_count = LogHistory(max_entries=100, max_bytes=1 << 30)
    by_bytes = LogHistory(max_entries=10_000, max_bytes=100 * (ENTRY_OVERHEAD + 1000))
    for i in range(1000):
        entry = entry_from_doc(i, {"message": f"m{i}"}, i, "info", "stdout")
        by_count.add(entry, 10)
        by_bytes.add(entry, 1000)
    assert len(by_count) == 100 and next(iter(by_count)).seq == 900
    assert len(by_bytes) == 100 and by_bytes.bytes <= by_bytes.max_bytes
    assert by_count.dropped == by_bytes.dropped == 900


def test_save_writes_whole_records_as_text_or_json_lines() -> None:
    doc = {"message": "boom\nsecond line", "error.stack_trace": "Traceback:\n  at a\n  at b", "user.id": 7}
    entries = [entry_from_doc(1, doc, 0, "error", "stderr"), entry_from_doc(2, {"message": "ok"}, 0, "info", "stdout")]
    text = render_records(entries, "text", timestamps=False)
    assert text == "ERROR boom\nsecond line\nTraceback:\n  at a\n  at b\nINFO  ok\n"
    lines = render_records(entries, "jsonl").splitlines()
    assert [json.loads(line) for line in lines] == [doc, {"message": "ok"}]


def test_the_events_pane_leaves_out_exec_and_polling_noise_but_not_health() -> None:
    for noisy in ("exec_create: /bin/sh -c curl -f http://localhost/", "exec_start: /bin/sh -c true", "exec_die",
                  "top", "resize", "attach"):
        assert not shown_event(noisy), noisy
    for kept in ("start", "die", "oom", "kill", "health_status: unhealthy", "restart"):
        assert shown_event(kept), kept


@given(st.text(max_size=80), st.sampled_from(LEVELS), st.integers(0, 500), st.text(max_size=20), st.booleans())
def test_an_entrys_width_is_the_length_of_its_line(message: str, level: str, extra: int, tag: str,
                                                  timestamps: bool) -> None:
    # The view sizes its rows by arithmetic (no line formatted per entry); it must agree with the line drawn.
    from tui.logmodel import LogEntry

    entry = LogEntry(1, 1_700_000_000_123_456_789, level, "stdout", message, extra, {}, tag)
    assert entry.width(timestamps) == len(entry.line(timestamps))
    if tag:
        start = entry.tag_start(timestamps)
        assert entry.line(timestamps)[start:start + len(tag)] == tag


@given(st.text(max_size=80), st.sampled_from([*LEVELS, "bogus", ""]), st.text(max_size=200), st.text(max_size=20),
       st.booleans())
def test_a_made_entrys_kept_width_is_the_length_of_its_line(message: str, level: str, trace: str, tag: str,
                                                            timestamps: bool) -> None:
    # entry_from_doc works the width out once (``cols``); the view's widest line is read from it.
    from tui.logmodel import entry_from_doc

    doc = {"message": message, **({"error.stack_trace": trace} if trace else {})}
    entry = entry_from_doc(1, doc, 1_700_000_000_123_456_789, level, "stdout", tag)
    assert entry.cols == len(entry.line(False))
    assert entry.width(timestamps) == len(entry.line(timestamps))


@given(st.lists(st.sampled_from(LEVELS), max_size=60), st.sampled_from(["", *LEVELS]), st.sampled_from(["", "a", "^x"]))
def test_select_keeps_what_keeps_keeps_in_order(levels: list[str], min_level: str, pattern: str) -> None:
    from tui.logmodel import LogQuery, entry_from_doc

    entries = [entry_from_doc(i, {"message": "xa" if i % 3 else "b"}, i, lvl, "stdout") for i, lvl in enumerate(levels)]
    query = LogQuery.make(min_level, pattern)
    assert query.select(entries) == [e for e in entries if query.keeps(e)]
