"""The build's one step beyond pyproject.toml: the log path's hot modules compiled with mypyc.

The modules below are plain, strictly typed Python; mypyc turns each into a C extension that
runs the same code about 1.6 times faster on the log path (``bench/RESULTS.md``, issue 14).
Where there is no C compiler or no Python headers, or with ``OBSERVE_COMPILE=0``, nothing is
compiled and the same modules run interpreted: the build never fails for it.

An editable install (``pip install -e .``) puts the compiled modules beside their sources, and
Python imports a compiled module before its ``.py``: after editing one of these modules, install
again (``tests/architecture`` fails on a compiled module older than its source).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

COMPILED = [
    "observe/timefmt.py",
    "observe/logs/text.py",
    "observe/logs/jsonfile.py",
    "observe/logs/levels.py",
    "observe/logs/fields.py",
    "observe/logs/multiline.py",
    "observe/logs/normalise.py",
    "observe/logs/pipeline.py",
    "observe/logs/formats.py",
]


class OptionalBuildExt(build_ext):
    """``build_ext`` that falls back to the interpreted modules when compiling fails."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as err:  # no compiler or headers: the same modules, interpreted
            self._remove_outputs()
            self.warn(f"observe: the log path's modules are not compiled ({err}); they run interpreted")

    def _remove_outputs(self) -> None:
        # A half-built set (a module without its shared library) would fail at import: none at all.
        for output in self.get_outputs():
            Path(output).unlink(missing_ok=True)


def extensions() -> list[Any]:
    if os.environ.get("OBSERVE_COMPILE", "1") == "0":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    try:
        return list(mypycify(COMPILED, opt_level="3"))
    except (Exception, SystemExit) as err:  # mypyc could not translate them (it exits on a type error): interpreted
        print(f"observe: the log path's modules are not compiled ({err}); they run interpreted")
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
