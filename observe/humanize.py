"""Short human forms of quantities, shared by the CLI tables and the TUI."""

from __future__ import annotations


def format_duration(seconds: float | None, missing: str = "") -> str:
    """``3d4h``, ``2h5m``, ``4m10s``, ``12s``; ``missing`` when there is no value (not running)."""
    if seconds is None:
        return missing
    s = int(seconds)
    days, rem = divmod(s, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
