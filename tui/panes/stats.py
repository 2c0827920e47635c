"""The Stats tab: live graphs from the sampler's history."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Label, Sparkline

from tui.coreview import CoreView
from tui.rows import block_bytes, cpu_percent_series, fmt_bytes, fmt_memory, memory_used, net_bytes, series


class StatsPane(VerticalScroll):
    """Live graphs from the sampler's history: CPU, memory against the limit, network, block I/O."""

    DEFAULT_CSS = """
    StatsPane Label { margin-top: 1; }
    StatsPane Sparkline { height: 3; }
    """
    GRAPHS = (("cpu", "CPU"), ("mem", "Memory"), ("rx", "Network in"), ("tx", "Network out"),
              ("blkr", "Block read"), ("blkw", "Block write"))

    def __init__(self, core: CoreView, container_id: str, name: str = "") -> None:
        super().__init__(id="stats-pane")
        self.core = core
        self.container_id = container_id

    def compose(self) -> ComposeResult:
        for key, title in self.GRAPHS:
            yield Label(title, id=f"label-{key}")
            yield Sparkline([], id=f"spark-{key}", summary_function=max)

    def on_mount(self) -> None:
        self.refresh_stats()
        self.set_interval(1.0, self.refresh_stats)

    def refresh_stats(self) -> None:
        if not self.shown():
            return  # a hidden tab does not poll
        stats = self.core.sampler.snapshot().get(self.container_id)
        if stats is None:
            self.query_one("#label-cpu", Label).update("CPU: no samples (the container is not running)")
            return
        history = stats.history
        minutes = max(0.0, (history[-1].time - history[0].time) / 60) if history else 0.0
        cpu = cpu_percent_series(history)
        mem = [float(memory_used(s) or 0) for s in history]
        limit = stats.limits.memory_bytes
        rx = series(history, lambda s: None if (n := net_bytes(s)) is None else n[0])
        tx = series(history, lambda s: None if (n := net_bytes(s)) is None else n[1])
        br = series(history, lambda s: None if (b := block_bytes(s)) is None else b[0])
        bw = series(history, lambda s: None if (b := block_bytes(s)) is None else b[1])
        span = f"last {minutes:.1f} min"
        values = {
            "cpu": (cpu, f"CPU {cpu[-1] if cpu else 0:.1f}% of one core · peak {max(cpu, default=0):.1f}% · {span}"),
            "mem": (mem, f"Memory {fmt_memory(memory_used(stats.latest), limit or None)}"
                         + (f" ({100 * mem[-1] / limit:.1f}% of the limit)" if limit and mem else " (no limit)")),
            "rx": (rx, f"Network in {fmt_bytes(rx[-1] if rx else None)}/s"),
            "tx": (tx, f"Network out {fmt_bytes(tx[-1] if tx else None)}/s"),
            "blkr": (br, f"Block read {fmt_bytes(br[-1] if br else None)}/s"),
            "blkw": (bw, f"Block write {fmt_bytes(bw[-1] if bw else None)}/s"),
        }
        for key, (data, label) in values.items():
            self.query_one(f"#label-{key}", Label).update(label)
            self.query_one(f"#spark-{key}", Sparkline).data = data or [0.0]

    def shown(self) -> bool:
        """Whether this pane's tab is the active one (an unparented pane counts as shown)."""
        tab = self.parent
        switcher = tab.parent if tab is not None else None
        current = getattr(switcher, "current", None)
        return current is None or tab is None or current == tab.id

