"""Per-container read positions, persisted atomically in the state directory.

A position is advanced only after the output accepted the record it belongs to, and saved
by write-to-temporary, fsync, rename: a collector killed at any instant finds either the old
file or the new one, never half of one. Saving is cheap enough to do every second; after a
SIGKILL at most that second is read again (at-least-once), after a clean stop nothing is.

With ``--workers N`` every worker process keeps the positions of its own shard of containers
in its own file (``log-positions-<k>-of-<N>.json``; one process keeps ``log-positions.json``):
the file of the worker that owns the container (``observe.logs.owners``). Before the workers
start, ``consolidate`` rewrites whatever files an earlier layout left into the files of the new
one, with the new layout's owners, so a container keeps its position when N changes.

A file also says when it was last written (``saved_ns``, rewritten at least every
``HEARTBEAT`` seconds while observe runs): at the next start, containers that ran after that
ran while observe was down.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

import orjson

from observe.errors import ConfigError
from observe.logs.owners import claim_all, owners_dir, remove_other_layouts
from observe.model import LogPosition

log = logging.getLogger(__name__)
FILE_NAME = "log-positions.json"
HEARTBEAT = 10.0


def file_name(shard: int, shards: int) -> str:
    return FILE_NAME if shards <= 1 else f"log-positions-{shard}-of-{shards}.json"


def _read_positions(path: Path) -> dict[str, LogPosition]:
    """The positions in one file; an unreadable file counts as empty (lines are read again, not lost)."""
    return _read(path)[0]


def _read(path: Path) -> tuple[dict[str, LogPosition], int]:
    """(positions, when the file was written in ns: 0 without a file)."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}, 0
    except (OSError, orjson.JSONDecodeError) as err:
        log.warning("checkpoint file unreadable; starting from the logs on disk",
                    extra={"event": "CheckpointUnreadable", "path": str(path), "error": str(err)})
        return {}, _mtime_ns(path)
    if not isinstance(data, dict):
        return {}, _mtime_ns(path)
    saved = data.get("saved_ns")
    saved_ns = saved if isinstance(saved, int) and saved > 0 else _mtime_ns(path)
    out: dict[str, LogPosition] = {}
    for cid, pos in (data.get("containers") or {}).items():
        try:
            out[cid] = LogPosition(
                int(pos["time_ns"]), int(pos.get("seq", 0)), str(pos.get("file_id", "")), int(pos.get("offset", 0))
            )
        except (KeyError, TypeError, ValueError):
            continue
    return out, saved_ns


def _mtime_ns(path: Path) -> int:
    """A file's modification time (for a file written before ``saved_ns`` existed)."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _write_atomic(directory: Path, path: Path, positions: dict[str, LogPosition], saved_ns: int = 0) -> None:
    """Write-to-temporary, fsync, rename (``saved_ns``: the time to record, 0 for now). Raises OSError."""
    payload = orjson.dumps({"version": 1, "saved_ns": saved_ns or time.time_ns(),
                            "containers": {k: v._asdict() for k, v in positions.items()}})
    fd, tmp = tempfile.mkstemp(prefix=".positions-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def consolidate(state_dir: str, shards: int) -> None:
    """Rewrite every positions file in ``state_dir`` into the files of a ``shards``-worker layout.

    A container found in several files (a layout changed while its position moved on) keeps the
    furthest position: positions only advance, so the latest ``(time_ns, seq, offset)`` is the newest.
    Files of other layouts are removed once the new ones are on disk. Call it while no worker runs.

    Raises:
        ConfigError: the state directory cannot be written.
    """
    directory = Path(state_dir)
    merged: dict[str, LogPosition] = {}
    found = sorted(directory.glob("log-positions*.json"))
    saved_ns = 0
    for path in found:
        positions, written = _read(path)
        saved_ns = max(saved_ns, written)
        for cid, pos in positions.items():
            old = merged.get(cid)
            if old is None or (pos.time_ns, pos.seq, pos.offset, pos.file_id) > (
                    old.time_ns, old.seq, old.offset, old.file_id):
                merged[cid] = pos
    wanted = {file_name(k, shards) for k in range(shards)}
    if {p.name for p in found} <= wanted and (shards <= 1 or not found or owners_dir(directory, shards).is_dir()):
        return  # already in this layout, owners included (or nothing saved yet)
    try:
        owner = dict.fromkeys(merged, 0)
        if shards > 1:  # claims first: a crash part-way leaves claims that the next attempt keeps to
            owner = claim_all(owners_dir(directory, shards), merged, shards)
        for k in range(shards):
            mine = {cid: pos for cid, pos in merged.items() if owner[cid] == k}
            _write_atomic(directory, directory / file_name(k, shards), mine, saved_ns)
        for path in found:
            if path.name not in wanted:
                path.unlink()
        remove_other_layouts(directory, shards)
    except OSError as err:
        raise ConfigError(f"invalid value for --state-dir: cannot rewrite checkpoints: {err.strerror}") from None


class CheckpointStore:
    """Positions by container id, loaded at start and saved on ``save()``.

    Raises:
        ConfigError: the state directory cannot be created or written.
    """

    def __init__(self, state_dir: str, shard: int = 0, shards: int = 1) -> None:
        self.dir = Path(state_dir)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"invalid value for --state-dir: cannot create {state_dir}: {err.strerror}") from None
        if not os.access(self.dir, os.W_OK):
            raise ConfigError(f"invalid value for --state-dir: {state_dir} is not writable")
        self.path = self.dir / file_name(shard, shards)
        self._lock = threading.Lock()
        self._positions, self.saved_ns = _read(self.path)  # saved_ns: when the file found was written (0: none)
        self._dirty = False
        self._written = 0.0

    def get(self, container_id: str) -> LogPosition | None:
        with self._lock:
            return self._positions.get(container_id)

    def advance(self, container_id: str, position: LogPosition) -> None:
        with self._lock:
            self._positions[container_id] = position
            self._dirty = True

    def forget(self, container_id: str) -> None:
        with self._lock:
            if self._positions.pop(container_id, None) is not None:
                self._dirty = True

    def known(self) -> list[str]:
        with self._lock:
            return list(self._positions)

    def save(self, force: bool = False) -> None:
        """Write the positions if they changed, or ``HEARTBEAT`` seconds passed, or ``force`` (atomic replace)."""
        with self._lock:
            if not (self._dirty or force or time.monotonic() - self._written >= HEARTBEAT):
                return
            positions = dict(self._positions)
            self._dirty = False
            self._written = time.monotonic()
        try:
            _write_atomic(self.dir, self.path, positions)
        except OSError as err:
            with self._lock:
                self._dirty = True
            log.error("cannot save checkpoints", extra={"event": "CheckpointSaveFailed", "error": str(err)})


LOCK_FILE = "lock"


def lock_state_dir(state_dir: str, wait: float) -> int:
    """Hold ``<state-dir>/lock`` for this process (the collector, or the supervisor of its workers).

    Two collectors on one state directory would both ship every line and overwrite each
    other's checkpoints. The lock is an exclusive ``flock`` kept while the process lives (the
    kernel lets it go when it dies, SIGKILL included); the file names its holder's pid. A
    collector still draining (a restart) is waited for, up to ``wait`` seconds. Returns the
    descriptor that holds it.

    Raises:
        ConfigError: the directory cannot be used, or another collector kept it past ``wait``.
    """
    directory = Path(state_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise ConfigError(f"invalid value for --state-dir: cannot use {state_dir}: {err.strerror}") from None
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            if time.monotonic() >= deadline:
                os.close(fd)
                raise ConfigError(f"invalid value for --state-dir: another observe run (pid {holder}) is using "
                                  f"{state_dir}; stop it, or give each collector its own --state-dir") from None
            if not told:
                told = True
                log.warning("waiting for the observe run (pid %s) that holds %s to stop", holder, state_dir,
                            extra={"event": "StateDirBusy", "pid": holder, "state_dir": state_dir})
            time.sleep(0.1)
        except OSError as err:  # a filesystem without locks: run as before, unguarded
            log.warning("cannot lock %s (%s): nothing keeps a second collector off it", state_dir, err.strerror,
                        extra={"event": "StateDirUnlocked", "state_dir": state_dir})
            return fd
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd

