"""The one wrapper around docker-py. Nothing outside ``observe/engine/`` imports docker.

Every call goes through ``Engine`` so that connection failures, permission problems and
vanished containers turn into ``ObserveError`` leaves with a message a user can act on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions
from docker.tls import TLSConfig
from docker.types import CancellableStream

from observe.config import Config
from observe.engine.address import engine_address, unavailable
from observe.engine.streams import ExecSocket, LogStream, Stream, dedicate, frame_header, release
from observe.errors import ContainerNotFound, ObserveError
from observe.timefmt import parse_ns

log = logging.getLogger(__name__)
T = TypeVar("T")


class Engine:
    """A connected engine client. Construction checks that the engine answers.

    Raises:
        EngineUnavailable: the engine cannot be reached, refuses us, or TLS fails.
        ConfigError: the TLS settings name files that do not exist.
    """

    def __init__(self, config: Config, environ: dict[str, str] | None = None) -> None:
        env = dict(os.environ if environ is None else environ)
        self.address = engine_address(config, env)
        tls: TLSConfig | bool = False
        verify = config.docker_tls_verify or env.get("DOCKER_TLS_VERIFY", "") not in ("", "0")
        cert_path = config.docker_cert_path or env.get("DOCKER_CERT_PATH", "")
        if self.address.startswith("tcp://") and (verify or cert_path):
            tls = self._tls(cert_path or os.path.expanduser("~/.docker"), verify)
        base_url = self.address
        if tls and base_url.startswith("tcp://"):
            base_url = "https://" + base_url[len("tcp://"):]
        try:
            self.api = docker.APIClient(
                base_url=base_url,
                version="auto",
                timeout=int(max(1.0, config.docker_timeout)),
                tls=tls,
                use_ssh_client=False,
            )
        except docker.errors.DockerException as err:
            raise unavailable(self.address, err) from None
        except (requests.exceptions.RequestException, OSError) as err:
            raise unavailable(self.address, err) from None
        self._info: dict[str, Any] | None = None
        self._clock_offset: int | None = None

    @staticmethod
    def _tls(cert_path: str, verify: bool) -> TLSConfig:
        from observe.errors import ConfigError

        files = {n: os.path.join(cert_path, n) for n in ("ca.pem", "cert.pem", "key.pem")}
        missing = [p for p in files.values() if not os.path.isfile(p)]
        if missing:
            raise ConfigError(f"invalid value for --docker-cert-path: {', '.join(missing)} not found")
        try:
            return TLSConfig(
                client_cert=(files["cert.pem"], files["key.pem"]),
                ca_cert=files["ca.pem"] if verify else None,
                verify=files["ca.pem"] if verify else False,
            )
        except docker.errors.TLSParameterError as err:
            raise ConfigError(f"invalid value for --docker-cert-path: {err}") from None

    @property
    def is_local(self) -> bool:
        """True when the engine shares our filesystem (a unix socket), so files can be read."""
        return self.address.startswith("unix://") or self.address.startswith("/")

    def call(self, fn: Callable[[], T], container: str = "") -> T:
        """Run one API call, translating docker-py's failures into ObserveError leaves."""
        try:
            return fn()
        except docker.errors.NotFound as err:
            raise ContainerNotFound(f"no such container: {container or err.explanation}") from None
        except docker.errors.APIError as err:
            raise ObserveError(f"the engine refused: {err.explanation or err}") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, OSError) as err:
            raise unavailable(self.address, err) from None
        except docker.errors.DockerException as err:
            raise unavailable(self.address, err) from None

    def ping(self) -> bool:
        return bool(self.call(self.api.ping))

    def info(self) -> dict[str, Any]:
        """The engine's ``/info`` (cached: cgroup driver and version do not change while it runs)."""
        if self._info is None:
            self._info = self.call(self.api.info)
        return self._info

    def clock_offset_ns(self) -> int:
        """How far the engine's clock runs ahead of ours, in ns (0 for a local engine: one clock).

        Measured once from ``/info``'s ``SystemTime``, against the middle of the call.
        """
        if self.is_local:
            return 0
        if self._clock_offset is None:
            before = time.time_ns()
            info = self.call(self.api.info)
            after = time.time_ns()
            try:
                self._clock_offset = parse_ns(str(info.get("SystemTime", ""))) - (before + after) // 2
            except ValueError:
                self._clock_offset = 0
        return self._clock_offset

    def refresh_info(self) -> dict[str, Any]:
        self._info = None
        return self.info()

    def container_ids(self, all: bool = True) -> list[str]:  # noqa: A002 - docker's own name
        rows = self.call(lambda: self.api.containers(all=all, trunc=False))
        return [row["Id"] for row in rows]

    def inspect(self, container: str) -> dict[str, Any]:
        """The inspect document of a container by id or name.

        Raises:
            ContainerNotFound: no container has that id or name (any more).
        """
        return self.call(lambda: self.api.inspect_container(container), container)

    def events(self, since: float | None = None) -> Stream:
        """A decoded stream of container events; ``close()`` from another thread ends it."""
        filters = {"type": ["container"]}
        stream: CancellableStream = self.call(
            lambda: self.api.events(since=since, filters=filters, decode=True)
        )
        return Stream(stream._stream, dedicate(stream._response))

    def past_events(self, since: float, until: float, container: str = "") -> list[dict[str, Any]]:
        """The container events the engine still holds between two unix times, oldest first (the call ends).

        The engine keeps a bounded number of past events in memory, so the oldest may be gone.

        Raises:
            EngineUnavailable: the engine cannot be reached.
        """
        filters: dict[str, list[str]] = {"type": ["container"]}
        if container:
            filters["container"] = [container]
        return self.call(lambda: [dict(e) for e in self.api.events(since=since, until=until, filters=filters,
                                                                    decode=True)])

    def log_stream(
        self,
        container_id: str,
        *,
        follow: bool,
        since_ns: int = 0,
        tail: int | None = None,
        read_timeout: float | None = None,
        tty: bool = False,
    ) -> LogStream:
        """Open the logs endpoint with Docker's timestamps; frames are demultiplexed by ``LogStream``.

        Args:
            since_ns: only lines at or after this time (ns since the epoch; 0 for all).
            tail: only the last N lines (None for all).
            read_timeout: seconds without data after which reading raises ``StreamStalled``.
            tty: the container has a TTY (its inspect ``Config.Tty``): the stream is raw, not framed.

        Raises:
            ContainerNotFound: the container is gone.
            EngineUnavailable: the engine cannot be reached.
        """
        params: dict[str, Any] = {
            "stdout": 1, "stderr": 1, "timestamps": 1, "follow": 1 if follow else 0,
            "tail": "all" if tail is None else str(tail),
        }
        if since_ns:
            secs, ns = divmod(since_ns, 1_000_000_000)
            params["since"] = f"{secs}.{ns:09d}"
        url = self.api._url("/containers/{0}/logs", container_id)
        response = dedicate(self.call(lambda: self.api._get(url, params=params, stream=True, timeout=None),
                                      container_id))
        try:
            self.call(lambda: self.api._raise_for_status(response), container_id)
        except ObserveError:
            release(response)  # its connection is its own: nobody else would close it
            raise
        return LogStream(self, response, read_timeout, tty)

    def stats_stream(self, container: str) -> Stream:
        """A decoded stream of a container's stats documents, one a second; ``close()`` from another thread ends it.

        docker-py's own ``stats(stream=True)`` returns a bare generator that cannot be closed
        from outside, so this builds the same request the way docker-py builds ``events``.

        Raises:
            ContainerNotFound: no such container.
            EngineUnavailable: the engine cannot be reached.
        """

        def open_stream() -> Stream:
            url = self.api._url("/containers/{0}/stats", container)
            response = dedicate(self.api._get(url, params={"stream": True}, stream=True))
            try:
                self.api._raise_for_status(response)
            except Exception:
                release(response)  # its connection is its own: nobody else would close it
                raise
            return Stream(self.api._stream_helper(response, decode=True), response)

        return self.call(open_stream, container)

    def top(self, container: str) -> dict[str, Any]:
        """``docker top``: ``{"Titles": [...], "Processes": [[...], ...]}`` of a running container.

        Raises:
            ContainerNotFound: no such container.
            ObserveError: the container is not running.
        """
        result: dict[str, Any] = self.call(lambda: self.api.top(container), container)
        return result

    def container_action(self, container: str, verb: str, timeout: int = 10) -> None:
        """Apply one of ``CONTAINER_VERBS`` to a container (``remove`` forces, like ``docker rm -f``).

        Args:
            timeout: seconds ``stop``/``restart`` wait before killing.

        Raises:
            ValueError: an unknown verb (a programming error, not a user's).
            ContainerNotFound: no such container.
            ObserveError: the engine refused (already stopped, not paused ...).
        """
        api = self.api
        verbs: dict[str, Callable[[], Any]] = {
            "start": lambda: api.start(container),
            "stop": lambda: api.stop(container, timeout=timeout),
            "restart": lambda: api.restart(container, timeout=timeout),
            "pause": lambda: api.pause(container),
            "unpause": lambda: api.unpause(container),
            "kill": lambda: api.kill(container),
            "remove": lambda: api.remove_container(container, force=True),
        }
        if verb not in verbs:
            raise ValueError(f"unknown container action {verb!r}")
        self.call(verbs[verb], container)

    def exec_run(self, container: str, argv: list[str]) -> tuple[int, bytes]:
        """Run a command in a container without a TTY and wait for it: (exit code, stdout and stderr).

        Raises:
            ContainerNotFound: no such container.
            ObserveError: the container is not running, or the command cannot be started.
        """
        created = self.call(
            lambda: self.api.exec_create(container, argv, stdout=True, stderr=True, stdin=False, tty=False), container
        )
        exec_id = created["Id"]
        # The raw socket, read and closed here: docker-py's own readers leave the connection open.
        sock = self._exec_start(exec_id, tty=False, container=container)
        chunks = []
        try:
            while chunk := sock.recv():
                chunks.append(chunk)
        finally:
            sock.close()
        raw = b"".join(chunks)
        parts = []
        pos = 0
        while pos + 8 <= len(raw):  # multiplexed frames, stdout and stderr kept in their order
            _, size = frame_header(raw[pos:pos + 8])
            parts.append(raw[pos + 8:pos + 8 + size])
            pos += 8 + size
        output = b"".join(parts)
        code = self.call(lambda: self.api.exec_inspect(exec_id), container).get("ExitCode")
        return (-1 if code is None else int(code)), output

    def exec_tty(self, container: str, argv: list[str]) -> ExecSocket:
        """Start a command in a container with a TTY and stdin attached; its socket carries the raw terminal.

        Raises:
            ContainerNotFound: no such container.
            ObserveError: the container is not running, or the command cannot be started.
        """
        created = self.call(
            lambda: self.api.exec_create(container, argv, stdout=True, stderr=True, stdin=True, tty=True), container
        )
        exec_id = created["Id"]
        return self._exec_start(exec_id, tty=True, container=container)

    def _exec_start(self, exec_id: str, *, tty: bool, container: str) -> ExecSocket:
        """Start an exec and take over its connection, keeping the HTTP response so that closing is complete.

        docker-py's ``exec_start(socket=True)`` drops the response on unix sockets; the socket then
        stays referenced by the response's reader and is only closed by the garbage collector.
        """
        response = dedicate(self.call(
            lambda: self.api._post_json(
                self.api._url("/exec/{0}/start", exec_id),
                headers={"Connection": "Upgrade", "Upgrade": "tcp"},
                data={"Tty": tty, "Detach": False},
                stream=True,
            ),
            container,
        ))
        sock = self.call(lambda: self.api._get_raw_response_socket(response), container)
        return ExecSocket(self, exec_id, sock, response)

    def iter_stream(self, stream: Iterator[T]) -> Iterator[T]:
        """Iterate a stream, turning a dropped connection into EngineUnavailable."""
        try:
            yield from stream
        except (requests.exceptions.RequestException, OSError, docker.errors.DockerException) as err:
            raise unavailable(self.address, err) from None

    def close(self) -> None:
        self.api.close()


CONTAINER_VERBS = ("start", "stop", "restart", "pause", "unpause", "kill", "remove")
"""The container actions ``Engine.container_action`` knows."""


