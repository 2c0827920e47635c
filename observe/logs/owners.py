"""Which worker of ``observe run --workers N`` follows a container: the least loaded, decided once.

A hash of the id spreads hundreds of containers evenly, but a host's handful of busy ones often
not (four containers over two workers split 3:1 or 4:0 more often than 2:2), and then one core
does the work of two. So the first worker to see a new container claims it for the worker that
follows the fewest running containers (ties: the hash's choice, then the lowest number), and the
claim is kept on disk as a file named by the container id in ``<state-dir>/owners-of-<N>/``,
created with ``link()`` so that exactly one claim wins whatever the workers do at the same
moment; the others read it. A claim never moves while the layout stays: the owner's checkpoint
file is the only one holding that container's position. ``observe.logs.checkpoints.consolidate``
writes the claims of a new layout, for every container with a saved position, before any worker
starts; a claim goes when its container is removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path


def shard_of(container_id: str, shards: int) -> int:
    """A worker (0 .. shards-1) chosen by a hash of the id: stable across restarts and processes."""
    return zlib.crc32(container_id.encode()) % shards if shards > 1 else 0


def owners_dir(state_dir: str | Path, shards: int) -> Path:
    return Path(state_dir) / f"owners-of-{shards}"


def _read_owner(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def claim(directory: Path, container_id: str, owner: int) -> int:
    """Claim ``container_id`` for ``owner`` unless it is claimed already; returns the owner that holds it."""
    path = directory / container_id
    fd, tmp = tempfile.mkstemp(prefix=".claim-", dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(str(owner))
        try:
            os.link(tmp, path)  # atomic and exclusive: the claim appears whole, or not at all
            return owner
        except FileExistsError:
            held = _read_owner(path)
            return owner if held is None else held
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def claim_all(directory: Path, container_ids: Iterable[str], shards: int) -> dict[str, int]:
    """Claims for many containers at once (a new layout's, before its workers start), spread evenly.

    Claims already on disk are kept; each other container goes to the least loaded worker
    (ties: the hash's choice, then the lowest number).
    """
    directory.mkdir(parents=True, exist_ok=True)
    load = [0] * shards
    owner: dict[str, int] = {}
    fresh = []
    for cid in sorted(set(container_ids)):
        held = _read_owner(directory / cid)
        if held is not None and held < shards:
            owner[cid] = held
            load[held] += 1
        else:
            fresh.append(cid)
    for cid in fresh:
        fewest = min(load)
        preferred = shard_of(cid, shards)
        choice = preferred if load[preferred] == fewest else load.index(fewest)
        owner[cid] = held = claim(directory, cid, choice)
        load[held] += 1
    return owner


def remove_other_layouts(state_dir: str | Path, shards: int) -> None:
    """Drop the claims of every other worker count (called while no worker runs)."""
    keep = owners_dir(state_dir, shards).name
    for path in Path(state_dir).glob("owners-of-*"):
        if path.name != keep:
            shutil.rmtree(path, ignore_errors=True)


class Owners:
    """Worker ``shard`` of ``shards``: which containers are its own.

    Args:
        state_dir: the checkpoint directory (shared by the workers).
        shard, shards: this worker and the worker count.
        running: the ids of the containers running now (the load that a new claim balances).
    """

    def __init__(self, state_dir: str, shard: int, shards: int, running: Callable[[], Iterable[str]]) -> None:
        self.shard = shard
        self.shards = shards
        self.dir = owners_dir(state_dir, shards)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._running = running
        self._known: dict[str, int] = {}
        self._lock = threading.Lock()

    def owner(self, container_id: str) -> int:
        """The worker that follows ``container_id`` (claiming it for the least loaded one when nobody has)."""
        with self._lock:
            held = self._known.get(container_id)
            if held is None:
                held = _read_owner(self.dir / container_id)
                if held is None or held >= self.shards:
                    held = claim(self.dir, container_id, self._least_loaded(container_id))
                self._known[container_id] = held
            return held

    def mine(self, container_id: str) -> bool:
        return self.owner(container_id) == self.shard

    def release(self, container_id: str) -> None:
        """The container was removed: its claim goes (its id is never used again)."""
        with self._lock:
            self._known.pop(container_id, None)
            with contextlib.suppress(OSError):
                os.unlink(self.dir / container_id)

    def prune(self, present: set[str]) -> None:
        """Drop this worker's claims of containers that no longer exist."""
        for path in self.dir.iterdir():
            if path.name.startswith(".") or path.name in present:
                continue
            if _read_owner(path) == self.shard:
                self.release(path.name)

    def _least_loaded(self, container_id: str) -> int:
        load = [0] * self.shards
        for cid in set(self._running()):
            if cid == container_id:
                continue
            held = self._known.get(cid)
            if held is None:
                held = _read_owner(self.dir / cid)
            if held is not None and held < self.shards:
                load[held] += 1
        fewest = min(load)
        preferred = shard_of(container_id, self.shards)
        return preferred if load[preferred] == fewest else load.index(fewest)
