#!/usr/bin/env python3
"""Throughput of the delivery path to each sink: records -> Delivery (queue, thread) -> sink -> a receiver.

Records are generated (a realistic logstash document of ~14 fields, ~400 bytes as JSON) in
batches of 1000, as the collector hands them over. Each sink gets the same records through a
``Delivery`` (its bounded queue and thread) and the clock stops when ``Delivery.finish``
returned, i.e. when the sink accepted everything: for ``tcp`` and ``syslog`` when the
receiver's TCP acknowledged every byte (the sink waits for that on close), for ``fluentd``
when every chunk was acknowledged (``ack=true``) or written (``ack=false``). Receivers run in
a separate process (reading and discarding; the fluentd one unpacks each message's envelope
and answers ``{"ack": chunk}``) so that they do not share our interpreter.

    python3 bench/bench_sinks.py --records 200000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def serve(kind: str, ready: Any) -> None:
    """Child process: accept connections; discard bytes, or (fluentd) acknowledge every chunk."""
    import msgpack

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    ready.send(listener.getsockname()[1])

    def handle(conn: socket.socket) -> None:
        unpacker = msgpack.Unpacker(raw=True, max_bin_len=1 << 30)
        with conn:
            while True:
                data = conn.recv(1 << 20)
                if not data:
                    return
                if kind == "fluentd":
                    unpacker.feed(data)
                    for msg in unpacker:
                        option = msg[2] if len(msg) > 2 else {}
                        chunk = option.get(b"chunk")
                        if chunk is not None:
                            conn.sendall(msgpack.packb({"ack": chunk.decode()}))

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def make_records(n: int) -> list[Any]:
    from observe.model import LogPosition, Record

    t0 = time.time_ns()
    out = []
    for i in range(n):
        t = t0 + i * 1000
        doc = {"@timestamp": "2026-01-02T03:04:05.123456Z", "@version": "1",
               "message": f"GET /api/items/{i} 200 {i % 977}ms user=u{i % 113} trace=abcdef{i:08d}",
               "log.level": "info" if i % 10 else "error", "stream": "stdout",
               "container.id": "f" * 64, "container.name": f"web-{i % 4}",
               "container.image.name": "example/web", "container.image.tag": "1.4.2",
               "container.labels": {"app": "web", "tier": "frontend"},
               "service.name": "web", "host.name": "bench-host", "observe.time_ns": t}
        out.append(Record(doc, t, doc["log.level"], "stdout", LogPosition(t, i * 400, "1:x", i), 1, 400))
    return out


def run(url: str, records: list[Any], batch: int) -> dict[str, float]:
    from observe.logs.delivery import Delivery
    from observe.logs.sinks import open_sink

    sink = open_sink(url, "logstash")
    delivery = Delivery([sink], None, capacity=64)
    delivery.start()
    t0 = time.perf_counter()
    for start in range(0, len(records), batch):
        chunk = records[start:start + batch]
        delivery.send(chunk[0].doc["container.name"], chunk, chunk[-1].position)
    ok = delivery.finish(time.monotonic() + 600)
    elapsed = time.perf_counter() - t0
    status = delivery.statuses()[0]
    assert ok and status.confirmed == len(records), (url, status)
    return {"seconds": elapsed, "lines_per_s": len(records) / elapsed, "resent": status.resent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000, help="records per batch (the collector's MAX_BATCH)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per sink; the best is reported")
    args = parser.parse_args()
    records = make_records(args.records)
    tmp = Path(tempfile.mkdtemp(prefix="bench-sinks-"))
    cases: list[tuple[str, str | None, str]] = [
        ("file (logstash NDJSON)", None, f"file://{tmp}/out.ndjson"),
        ("tcp (json_lines, logstash)", "tcp", "tcp://127.0.0.1:{port}"),
        ("tcp (json_lines, flat json)", "tcp", "tcp://127.0.0.1:{port}?format=json"),
        ("syslog+tcp (RFC 5424, octet counting)", "tcp", "syslog+tcp://127.0.0.1:{port}"),
        ("fluentd (PackedForward, ack=true)", "fluentd", "fluentd://127.0.0.1:{port}"),
        ("fluentd (PackedForward, ack=false)", "fluentd", "fluentd://127.0.0.1:{port}?ack=false"),
    ]
    print(f"{args.records} records, batches of {args.batch}, best of {args.repeat}")
    print(f"{'sink':40} {'lines/s':>10} {'seconds':>8}")
    for label, kind, url in cases:
        child = None
        if kind is not None:
            here, there = mp.Pipe()
            child = mp.Process(target=serve, args=(kind, there), daemon=True)
            child.start()
            url = url.format(port=here.recv())
        try:
            best = min((run(url, records, args.batch) for _ in range(args.repeat)), key=lambda r: r["seconds"])
        finally:
            if child is not None:
                child.terminate()
                child.join()
        print(f"{label:40} {best['lines_per_s']:>10,.0f} {best['seconds']:>8.2f}")
        (tmp / "out.ndjson").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
