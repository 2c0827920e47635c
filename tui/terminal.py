"""Bridge the user's terminal to an exec session's TTY, as ``docker exec -it`` does, without the docker CLI.

Runs while the app is suspended: the terminal is put in raw mode, keys go to the session,
its output goes to the screen, the window size follows SIGWINCH; everything is restored when
the command exits, however it exits.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import termios
import tty
from types import FrameType
from typing import Protocol


class ExecSession(Protocol):
    """What the core's ``open_exec`` returns (``observe.engine.ExecSocket``)."""

    def fileno(self) -> int: ...

    def send(self, data: bytes) -> None: ...

    def recv(self, size: int = 65536) -> bytes: ...

    def resize(self, rows: int, columns: int) -> None: ...

    def exit_code(self) -> int | None: ...

    def close(self) -> None: ...


def _size(fd: int) -> tuple[int, int] | None:
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return size.lines, size.columns


def bridge(session: ExecSession, stdin_fd: int = 0, stdout_fd: int = 1) -> int | None:
    """Copy keys to the session and its output to the terminal until the command exits.

    Args:
        session: a started exec with a TTY.
        stdin_fd: where keys come from (raw mode is set on it when it is a terminal).
        stdout_fd: where output goes.

    Returns:
        The command's exit code (None if the engine no longer knows it).
    """
    is_tty = os.isatty(stdin_fd)
    saved = termios.tcgetattr(stdin_fd) if is_tty else None
    previous_winch = None

    def on_winch(signum: int, frame: FrameType | None) -> None:
        size = _size(stdout_fd)
        if size:
            with contextlib.suppress(Exception):
                session.resize(*size)

    try:
        if is_tty:
            tty.setraw(stdin_fd)
        size = _size(stdout_fd)
        if size:
            with contextlib.suppress(Exception):  # a resize that fails only costs the shell's line editing
                session.resize(*size)
        with contextlib.suppress(ValueError):  # only the main thread may set signal handlers
            previous_winch = signal.signal(signal.SIGWINCH, on_winch)
        stdin_open = True
        while True:
            watch: list[int] = [session.fileno()] + ([stdin_fd] if stdin_open else [])
            try:
                ready, _, _ = select.select(watch, [], [], 1.0)
            except InterruptedError:
                continue
            if session.fileno() in ready:
                data = session.recv(65536)
                if not data:
                    break
                os.write(stdout_fd, data)
            if stdin_open and stdin_fd in ready:
                keys = os.read(stdin_fd, 4096)
                if keys:
                    session.send(keys)
                else:
                    stdin_open = False
    finally:
        if saved is not None:
            termios.tcsetattr(stdin_fd, termios.TCSADRAIN, saved)
        if previous_winch is not None:
            signal.signal(signal.SIGWINCH, previous_winch)
    try:
        return session.exit_code()
    finally:
        session.close()
