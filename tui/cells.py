"""The containers table's cells: a row or a group header as Rich text, keyed by column.

Kept apart from the screen so that the screen holds behaviour and this module the looks.
Cells are keyed by ``tui.rows.COLUMNS`` keys: the screen shows those ``tui.layout`` lets fit.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import RenderableType
from rich.text import Text

from tui.actions import PENDING, Outcome
from tui.rows import (
    Group,
    Row,
    fmt_bytes,
    fmt_duration,
    fmt_memory,
    fmt_percent,
    fmt_rate,
    fmt_row_cpu,
    fmt_state,
    sparkline,
)

STATE_STYLES = {"running": "green", "paused": "yellow", "restarting": "yellow", "exited": "dim", "created": "dim",
                "dead": "red", "removing": "dim"}
MARK = "● "
"""What starts the NAME of a marked row."""
Cells = dict[str, RenderableType]


def state_text(row: Row) -> Text:
    """The STATE cell: the state (with exit code, restarts, OOM), coloured by how bad it is."""
    label = fmt_state(row)
    base = {"oom": "bold red", "exited": "bold red", "restarting": "bold yellow"}.get(
        row.problem, STATE_STYLES.get(row.state, ""))
    text = Text(row.state, style=base)
    rest = label[len(row.state):]
    if rest:
        health = {"healthy": "green", "": base}.get(row.health, "yellow")
        text.append(rest, style="bold red" if row.problem else health)
    return text


def action_text(state: Text, pending: str | None, outcome: Outcome | None) -> Text:
    """The STATE cell while an action is under way (``stopping…``) or just after (``✓ stop`` / ``✗ stop``)."""
    if pending is not None:
        return Text(f"{PENDING.get(pending, pending)}…", style="bold yellow italic")
    if outcome is None:
        return state
    out = state.copy()
    out.append(f" ✓ {outcome.verb}" if outcome.ok else f" ✗ {outcome.verb} failed",
               style="green" if outcome.ok else "bold red")
    return out


def row_cells(row: Row, marked: bool = False, pending: str | None = None, outcome: Outcome | None = None) -> Cells:
    """The cells of a container row, by column key."""
    top = max([5.0, *row.cpu_history])
    name = Text(row.name, style="bold" if row.running else "dim")
    if marked:
        name = Text.assemble((MARK, "bold yellow"), name)
    cpu_style = "bold red" if row.throttled else "bold yellow" if (row.cpu_load or 0) >= 90 and row.cpu_limit else ""
    return {
        "name": name,
        "service": row.service,
        "image": row.image,
        "state": action_text(state_text(row), pending, outcome),
        "cpu": Text(fmt_row_cpu(row), justify="right", style=cpu_style),
        "history": Text(sparkline(row.cpu_history, top=top), style="cyan"),
        "memory": Text(fmt_memory(row.mem_used, row.mem_limit), justify="right"),
        "rx": Text(fmt_rate(row.rx_rate), justify="right"),
        "tx": Text(fmt_rate(row.tx_rate), justify="right"),
        "restarts": Text(str(row.restarts), justify="right", style="red" if row.restarts else ""),
        "uptime": Text(fmt_duration(row.uptime), justify="right"),
    }


def group_cells(group: Group, collapsed: bool = False) -> Cells:
    """The cells of a group's header row: totals over its containers; ``▶`` and the count when collapsed."""
    count = f"{len(group.rows)} container{'s' if len(group.rows) != 1 else ''}"
    problems = sum(1 for r in group.rows if r.problem)
    state = Text(f"{group.running}/{len(group.rows)} running", style="magenta")
    if problems:
        state.append(f" {problems} ⚠", style="bold red")
    return {
        "name": Text(f"{'▶' if collapsed else '▼'} {group.title}" + (f" ({count})" if collapsed else ""),
                     style="bold magenta"),
        "service": Text(count, style="magenta"),
        "image": "",
        "state": state,
        "cpu": Text(fmt_percent(group.cpu) + "%" if group.cpu is not None else "-", justify="right", style="bold"),
        "history": "",
        "memory": Text(fmt_bytes(group.mem_used) if group.mem_used is not None else "-", justify="right",
                       style="bold"),
        "rx": Text(fmt_rate(group.rx_rate), justify="right", style="bold"),
        "tx": Text(fmt_rate(group.tx_rate), justify="right", style="bold"),
        "restarts": Text(str(group.restarts), justify="right", style="bold"),
        "uptime": "",
    }


def width_of(cell: RenderableType) -> int:
    """How many terminal cells a table cell needs on one line."""
    if isinstance(cell, Text):
        return cell.cell_len
    return cell_len(str(cell))


def cut(cell: RenderableType, width: int) -> RenderableType:
    """The cell cut to ``width`` with an ellipsis (a narrow terminal's NAME column)."""
    text = cell.copy() if isinstance(cell, Text) else Text(str(cell))
    text.truncate(width, overflow="ellipsis")
    return text
