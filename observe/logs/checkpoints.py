"""Per-container read positions, persisted atomically in the state directory.

A position is advanced only after the output accepted the record it belongs to, and saved
by write-to-temporary, fsync, rename: a collector killed at any instant finds either the old
file or the new one, never half of one. Saving is cheap enough to do every second; after a
SIGKILL at most that second is read again (at-least-once), after a clean stop nothing is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from pathlib import Path

import orjson

from observe.errors import ConfigError
from observe.model import LogPosition

log = logging.getLogger(__name__)
FILE_NAME = "log-positions.json"


class CheckpointStore:
    """Positions by container id, loaded at start and saved on ``save()``.

    Raises:
        ConfigError: the state directory cannot be created or written.
    """

    def __init__(self, state_dir: str) -> None:
        self.dir = Path(state_dir)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"invalid value for --state-dir: cannot create {state_dir}: {err.strerror}") from None
        if not os.access(self.dir, os.W_OK):
            raise ConfigError(f"invalid value for --state-dir: {state_dir} is not writable")
        self.path = self.dir / FILE_NAME
        self._lock = threading.Lock()
        self._positions: dict[str, LogPosition] = {}
        self._dirty = False
        self._load()

    def _load(self) -> None:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, orjson.JSONDecodeError) as err:
            # Not fatal: start over, which repeats lines rather than losing them.
            log.warning("checkpoint file unreadable; starting from the logs on disk",
                        extra={"event": "CheckpointUnreadable", "path": str(self.path), "error": str(err)})
            return
        for cid, pos in (data.get("containers") or {}).items():
            try:
                self._positions[cid] = LogPosition(
                    int(pos["time_ns"]), int(pos.get("seq", 0)), str(pos.get("file_id", "")), int(pos.get("offset", 0))
                )
            except (KeyError, TypeError, ValueError):
                continue

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

    def save(self) -> None:
        """Write the positions if they changed (atomic replace)."""
        with self._lock:
            if not self._dirty:
                return
            payload = orjson.dumps({"version": 1, "containers": {k: v._asdict() for k, v in self._positions.items()}})
            self._dirty = False
        fd, tmp = tempfile.mkstemp(prefix=".positions-", dir=self.dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as err:
            with self._lock:
                self._dirty = True
            log.error("cannot save checkpoints", extra={"event": "CheckpointSaveFailed", "error": str(err)})
            with contextlib.suppress(OSError):
                os.unlink(tmp)
