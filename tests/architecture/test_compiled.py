"""The log path's compiled modules (setup.py) are the code in the tree, never an older build of it.

An editable install puts each compiled module beside its source, and Python imports the compiled
one first: a source edited after the install would not be what runs (nor what is tested).
"""

from __future__ import annotations

import importlib.machinery
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def compiled_modules() -> list[str]:
    """The modules setup.py compiles, as it lists them."""
    return re.findall(r'^\s+"([\w/]+\.py)",$', (ROOT / "setup.py").read_text(), re.MULTILINE)


def test_setup_lists_the_log_path_modules() -> None:
    listed = compiled_modules()
    assert "observe/logs/pipeline.py" in listed and "observe/logs/jsonfile.py" in listed
    assert all((ROOT / path).is_file() for path in listed), listed


def test_no_compiled_module_is_older_than_its_source() -> None:
    stale = []
    for path in compiled_modules():
        source = ROOT / path
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            built = source.with_name(source.stem + suffix)
            if built.exists() and built.stat().st_mtime < source.stat().st_mtime:
                stale.append(path)
    assert not stale, (f"{', '.join(stale)} changed after the compiled modules were built; "
                       "run `python3 -m pip install -e .` again")
