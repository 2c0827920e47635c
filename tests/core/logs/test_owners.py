"""Which worker follows a container: claimed once, for the least loaded worker, agreed by all."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from observe.logs.owners import Owners, claim_all, owners_dir, remove_other_layouts

ids = st.lists(st.text("0123456789abcdef", min_size=12, max_size=12), min_size=1, max_size=10, unique=True)


@settings(max_examples=80, deadline=None)
@given(ids, st.integers(2, 4), st.randoms(use_true_random=False))
def test_containers_seen_one_by_one_are_spread_evenly_and_every_worker_agrees(
        tmp_path_factory: pytest.TempPathFactory, running: list[str], n: int, rnd: object) -> None:
    state = str(tmp_path_factory.mktemp("state"))
    seen: list[str] = []
    workers = [Owners(state, k, n, lambda: list(seen)) for k in range(n)]
    for cid in running:  # each new container is looked at by the workers in some order
        seen.append(cid)
        order = list(range(n))
        rnd.shuffle(order)  # type: ignore[attr-defined]
        answers = {workers[k].owner(cid) for k in order}
        assert len(answers) == 1, "two workers disagree on a container's owner"
    load = [sum(1 for cid in running if workers[0].owner(cid) == k) for k in range(n)]
    assert max(load) - min(load) <= 1, load
    assert all(sum(w.mine(cid) for w in workers) == 1 for cid in running), "a container followed twice or never"


def test_workers_claiming_at_the_same_moment_agree(tmp_path: Path) -> None:
    cids = [f"{i:012x}" for i in range(200)]
    workers = [Owners(str(tmp_path), k, 3, list) for k in range(3)]
    answers: list[dict[str, int]] = [{} for _ in workers]
    start = threading.Barrier(len(workers))

    def claim_every(k: int) -> None:
        start.wait()
        for cid in cids:
            answers[k][cid] = workers[k].owner(cid)

    threads = [threading.Thread(target=claim_every, args=(k,)) for k in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers[0] == answers[1] == answers[2]
    assert not [p for p in owners_dir(tmp_path, 3).iterdir() if p.name.startswith(".")], "temporary files left"


def test_a_running_containers_load_counts_and_released_claims_do_not(tmp_path: Path) -> None:
    running = ["a" * 12, "b" * 12]
    w0 = Owners(str(tmp_path), 0, 2, lambda: running)
    first, second = w0.owner(running[0]), w0.owner(running[1])
    assert {first, second} == {0, 1}
    w0.release(running[0] if first == 0 else running[1])  # worker 0's container was removed
    running.remove(running[0] if first == 0 else running[1])
    third = "c" * 12
    running.append(third)
    assert w0.owner(third) == 0, "the worker left with nothing takes the next container"
    # A claim survives a restart of the worker (a new Owners reads it back).
    assert Owners(str(tmp_path), 1, 2, list).owner(third) == 0


def test_prune_drops_only_own_claims_of_containers_gone(tmp_path: Path) -> None:
    w0, w1 = Owners(str(tmp_path), 0, 2, list), Owners(str(tmp_path), 1, 2, list)
    claim_all(owners_dir(tmp_path, 2), ["x" * 12, "y" * 12, "z" * 12, "w" * 12], 2)
    gone = {cid for cid in ("x" * 12, "y" * 12, "z" * 12, "w" * 12)}
    w0.prune(set())
    left = {p.name for p in owners_dir(tmp_path, 2).iterdir()}
    assert left and all(w1.owner(cid) == 1 for cid in left) and left < gone


def test_claims_of_other_layouts_go(tmp_path: Path) -> None:
    claim_all(owners_dir(tmp_path, 2), ["a" * 12], 2)
    claim_all(owners_dir(tmp_path, 3), ["a" * 12], 3)
    remove_other_layouts(tmp_path, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["owners-of-3"]
