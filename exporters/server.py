"""The exporter's HTTP endpoint: ``/metrics``, ``/healthz`` and whatever routes a face adds.

``/metrics`` speaks the Prometheus text format, OpenMetrics when the scraper's ``Accept`` asks
for it, and gzip when ``Accept-Encoding`` allows (prometheus_client's own negotiation). Optional
TLS (the handshake happens on the request's thread, so a slow client cannot stall the others)
and HTTP basic auth. Extra routes (``/autoscale``) are plain functions returning
``(status, content type, body)``.
"""

from __future__ import annotations

import gzip
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from exporters.exposition import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE
from exporters.prometheus import Exposition
from observe.errors import ConfigError
from observe.webauth import BasicAuth

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Request:
    """What a route handler sees of a request."""

    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]


Response = tuple[int, str, bytes]
Route = Callable[[Request], Response]
HealthCheck = Callable[[], tuple[bool, str]]


def gzip_accepted(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header allows gzip (and does not refuse it with ``q=0``)."""
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"))
    return False


def wants_openmetrics(accept: str) -> bool:
    """Whether the scraper's ``Accept`` asks for OpenMetrics (Prometheus does when it may)."""
    return "application/openmetrics-text" in accept.lower()


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port``, ``[::1]:port`` or ``:port`` (every interface) as (host, port).

    Raises:
        ConfigError: not an address with a port in 0-65535.
    """
    text = listen.strip()
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"invalid value for --listen: {listen!r} is not host:port")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def tls_context(cert: str, key: str) -> ssl.SSLContext | None:
    """A server TLS context, or None when neither file is given.

    Raises:
        ConfigError: only one of the two is given, or they cannot be loaded.
    """
    if not cert and not key:
        return None
    if not cert or not key:
        raise ConfigError("--web-tls-cert and --web-tls-key go together: give both or neither")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(f"invalid value for --web-tls-cert/--web-tls-key: cannot load them ({err})") from None
    return ctx


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)
        wrapped = self.tls.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        try:
            wrapped.do_handshake()
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("exporter request failed", exc_info=True,
                  extra={"event": "ExporterRequestFailed", "client": str(client_address)})


class ExporterServer:
    """Serves a registry over HTTP(S) on a thread of its own.

    Args:
        exposition: what ``/metrics`` serves (bytes built once per sweep, see ``exporters.prometheus``).
        listen: ``host:port``; port 0 picks a free one (see ``port``).
        tls: a server context for HTTPS (see ``tls_context``), or None for plain HTTP.
        basic_auth: credentials every request must present, or None.
        routes: extra paths and their handlers.
        health: ``/healthz``'s check: (healthy, reason).
        snapshot: the sampler's current snapshot, so that a scrape finding older bytes rebuilds them.
    """

    def __init__(self, exposition: Exposition, listen: str = "127.0.0.1:10077",
                 tls: ssl.SSLContext | None = None, basic_auth: BasicAuth | None = None,
                 routes: Mapping[str, Route] | None = None, health: HealthCheck | None = None,
                 snapshot: Callable[[], object] | None = None) -> None:
        self.exposition = exposition
        self.snapshot = snapshot
        self._on_stop: list[Callable[[], None]] = []
        self.host, port = parse_listen(listen)
        self.tls = tls
        self.basic_auth = basic_auth
        self.routes: dict[str, Route] = {"/metrics": self._metrics, "/healthz": self._healthz, **(routes or {})}
        self.health = health
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_class = type("_BoundServer", (_Server,), {"address_family": family})
        try:
            self._httpd: _Server = server_class((self.host, port), self._handler_class())
        except OSError as err:
            raise ConfigError(f"invalid value for --listen: cannot listen on {listen}: {err.strerror}") from None
        self._httpd.tls = tls
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def add_route(self, path: str, handler: Route) -> None:
        """Serve ``handler`` at ``path`` (replacing what was there)."""
        self.routes[path] = handler

    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="observe-exporter-http", daemon=True)
        self._thread.start()
        log.info("exporter listening", extra={"event": "ExporterListening", "url": self.url})

    def on_stop(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` when the server stops (the exporter unsubscribes from the sampler)."""
        self._on_stop.append(fn)

    def stop(self) -> None:
        for fn in self._on_stop:
            fn()
        self._on_stop.clear()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    # -- routes --------------------------------------------------------------------------
    def _metrics(self, request: Request) -> Response:
        """Never called for the bytes (``metrics_body`` is): kept so ``/metrics`` is a listed route."""
        body, content_type, _ = self.metrics_body(request.headers)
        return 200, content_type, body

    def metrics_body(self, headers: Mapping[str, str]) -> tuple[bytes, str, bool]:
        """(bytes, content type, gzipped) of ``/metrics`` for these request headers: no per-series work."""
        om = wants_openmetrics(headers.get("accept", ""))
        gz = gzip_accepted(headers.get("accept-encoding", ""))
        snap = self.snapshot() if self.snapshot is not None else None
        body = self.exposition.body(om, gz, snap)  # type: ignore[arg-type]
        return body, OPENMETRICS_CONTENT_TYPE if om else TEXT_CONTENT_TYPE, gz

    def _healthz(self, request: Request) -> Response:
        ok, reason = self.health() if self.health else (True, "ok")
        return (200 if ok else 503), "text/plain; charset=utf-8", (reason + "\n").encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "observe-exporter"

            def do_GET(self) -> None:
                self._serve(head=False)

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def _serve(self, head: bool) -> None:
                if server.basic_auth is not None and not server.basic_auth.check_header(
                        self.headers.get("Authorization")):
                    self._send(401, "text/plain; charset=utf-8", b"unauthorized\n", head,
                               {"WWW-Authenticate": 'Basic realm="observe", charset="UTF-8"'})
                    return
                parts = urlsplit(self.path)
                route = server.routes.get(parts.path)
                if route is None:
                    self._send(404, "text/plain; charset=utf-8", b"not found; try /metrics\n", head)
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                if parts.path == "/metrics" and route == server._metrics:
                    try:
                        body, content_type, gz = server.metrics_body(headers)
                    except Exception:
                        log.exception("exporter route failed", extra={"event": "ExporterRouteFailed",
                                                                      "path": parts.path})
                        self._send(500, "text/plain; charset=utf-8", b"internal error\n", head)
                        return
                    self._send(200, content_type, body, head, {"Content-Encoding": "gzip"} if gz else None)
                    return
                try:
                    status, content_type, body = route(Request(parts.path, parse_qs(parts.query), headers))
                except Exception:  # a route's bug answers 500 and is logged; the server goes on
                    log.exception("exporter route failed", extra={"event": "ExporterRouteFailed",
                                                                  "path": parts.path})
                    status, content_type, body = 500, "text/plain; charset=utf-8", b"internal error\n"
                extra: dict[str, str] = {}
                if gzip_accepted(headers.get("accept-encoding", "")):
                    body = gzip.compress(body, compresslevel=6)
                    extra["Content-Encoding"] = "gzip"
                self._send(status, content_type, body, head, extra)

            def _send(self, status: int, content_type: str, body: bytes, head: bool,
                      extra: Mapping[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                log.debug(format % args, extra={"event": "ExporterRequest"})

        return Handler
