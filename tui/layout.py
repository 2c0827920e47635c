"""Which table columns fit the terminal: columns drop by their declared priority as the width shrinks. Pure.

At 80x24 an operator still needs NAME, STATE, CPU and MEMORY; the image, the network rates and the CPU
history go first. The NAME column is cut (with an ellipsis) before any of the first four is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

CELL_PADDING = 2
"""What the table adds around each cell (one space either side)."""
MIN_NAME_WIDTH = 8
ESSENTIAL = ("name", "state", "cpu", "memory")
"""Columns shown at any width (NAME shrinks to make room for the others)."""


def fit_columns(order: Sequence[str], priority: Mapping[str, int], widths: Mapping[str, int],
                available: int) -> tuple[list[str], int | None]:
    """The columns to show, in table order, and the width to cut NAME to (None: its natural width).

    Args:
        order: every column key, in table order.
        priority: each key's priority (lower stays longer).
        widths: each column's natural width (its widest cell or title), without padding.
        available: the width the table may use.

    Returns:
        The keys kept, in ``order``; the essential ones always, the others by priority while they fit
        whole. NAME gets what the others leave (at least ``MIN_NAME_WIDTH``) when it does not fit.
    """
    def cost(key: str) -> int:
        return widths.get(key, 0) + CELL_PADDING

    kept = [k for k in ESSENTIAL if k in order]
    used = sum(cost(k) for k in kept)
    for key in sorted((k for k in order if k not in kept), key=lambda k: (priority.get(k, 99), order.index(k))):
        if used + cost(key) <= available:
            kept.append(key)
            used += cost(key)
        else:
            break  # a lower priority column never shows while a higher one is hidden
    name_width: int | None = None
    natural = widths.get("name", 0)
    if "name" in kept and used > available and natural > MIN_NAME_WIDTH:
        name_width = max(MIN_NAME_WIDTH, natural - (used - available))
    return [k for k in order if k in kept], name_width
