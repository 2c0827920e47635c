"""Shared helpers for the log-normalisation tests: containers, lines, real-world samples."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from observe.engine.inspect import from_inspect
from observe.logs.normalise import NormaliseOptions
from observe.logs.pipeline import LogPipeline
from observe.model import ContainerInfo, LogLine, LogPosition, Record

T0 = 1_795_573_128_123_456_789  # 2026-11-25T02:18:48.123456789Z


def make_container(name: str = "web-1", image: str = "shop/web:2", labels: dict[str, str] | None = None,
                   cid: str = "c" * 64) -> ContainerInfo:
    doc: dict[str, Any] = {
        "Id": cid,
        "Name": "/" + name,
        "Config": {"Image": image, "Labels": labels or {}, "Tty": False},
        "State": {"Status": "running", "Running": True, "Pid": 42},
        "HostConfig": {"LogConfig": {"Type": "json-file"}},
    }
    return from_inspect(doc, {"CgroupDriver": "cgroupfs", "CgroupVersion": "1"})


def lines(texts: Iterable[str], stream: str = "stdout", start: int = 0) -> list[LogLine]:
    """Complete lines, 1 ms apart, each with its own position (offset = index + 1)."""
    return [LogLine(T0 + (start + i) * 1_000_000, stream, t, position=LogPosition(T0, 0, "1:1", start + i + 1))
            for i, t in enumerate(texts)]


def run(items: Iterable[str | LogLine], options: NormaliseOptions | None = None,
        container: ContainerInfo | None = None, stream: str = "stdout") -> list[Record]:
    """Everything fed at once (strings become complete lines of ``stream``), then flushed."""
    raw: list[LogLine] = []
    for i, item in enumerate(items):
        raw.append(item if isinstance(item, LogLine) else lines([item], stream, start=i)[0])
    pipeline = LogPipeline(container or make_container(), options or NormaliseOptions())
    out: list[Record] = []
    for line in raw:
        out.extend(pipeline.feed(line, 0.0))
    out.extend(pipeline.flush_all())
    assert not pipeline.pending
    return out


JAVA_TRACE = [
    "java.lang.IllegalStateException: Connection is not available, request timed out after 30000ms.",
    "\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)",
    "\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:197)",
    "\tat com.example.shop.order.OrderService.place(OrderService.java:88)",
    "Caused by: java.net.SocketTimeoutException: connect timed out",
    "\tat java.base/java.net.PlainSocketImpl.socketConnect(Native Method)",
    "\t... 42 more",
]

PYTHON_TRACE = [
    "Traceback (most recent call last):",
    '  File "/app/service/handlers.py", line 41, in handle_request',
    "    result = await handler(request)",
    '  File "/app/service/db.py", line 17, in fetch_user',
    "    user = users[payload['user_id']]",
    "           ~~~~~^^^^^^^^^^^^^^^^^^^",
    "KeyError: 'user_id'",
]

PYTHON_CHAINED = [
    "Traceback (most recent call last):",
    '  File "/app/x.py", line 3, in <module>',
    "    int('abc')",
    "ValueError: invalid literal for int() with base 10: 'abc'",
    "",
    "During handling of the above exception, another exception occurred:",
    "",
    "Traceback (most recent call last):",
    '  File "/app/x.py", line 5, in <module>',
    "    raise RuntimeError('bad input')",
    "RuntimeError: bad input",
]

GO_PANIC = [
    "panic: runtime error: invalid memory address or nil pointer dereference",
    "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x48f1b2]",
    "",
    "goroutine 1 [running]:",
    "main.(*Server).handle(0x0, {0x4b8f2e, 0x5})",
    "\t/app/server.go:42 +0x12",
    "main.main()",
    "\t/app/main.go:12 +0x25",
    "created by net/http.(*Server).Serve in goroutine 1",
    "\t/usr/local/go/src/net/http/server.go:3285 +0x4b4",
]

NODE_TRACE = [
    "TypeError: Cannot read properties of undefined (reading 'id')",
    "    at Object.<anonymous> (/app/index.js:12:19)",
    "    at Module._compile (node:internal/modules/cjs/loader:1256:14)",
]
