"""``promtool check metrics`` on an exposition, with cAdvisor's own spellings (kept for its dashboards) allowed."""

from __future__ import annotations

import subprocess

from exporters.cadvisor import CADVISOR_NAMING_EXCEPTIONS


def promtool_problems(exposition: bytes | str) -> list[str]:
    """What promtool reports, but for the lint of cAdvisor's names (``CADVISOR_NAMING_EXCEPTIONS``).

    Returns a one-element list with promtool's whole answer when it fails for another reason.
    """
    data = exposition.encode() if isinstance(exposition, str) else exposition
    out = subprocess.run(["promtool", "check", "metrics"], input=data, capture_output=True, timeout=30)
    text = (out.stdout + out.stderr).decode()
    report = [line for line in text.splitlines() if line.strip() and not line.startswith(CADVISOR_NAMING_EXCEPTIONS)]
    if out.returncode not in (0, 3):  # 3: lint problems, which the report lists
        return [f"promtool exited {out.returncode}: {text}"]
    return report
