"""The one wrapper around docker-py. Nothing outside ``observe`` imports docker.

Every call goes through ``Engine`` so that connection failures, permission problems and
vanished containers turn into ``ObserveError`` leaves with a message a user can act on.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions
from docker.tls import TLSConfig
from docker.types import CancellableStream

from observe.config import Config
from observe.errors import ContainerNotFound, EngineUnavailable, ObserveError

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_HOST = "unix:///var/run/docker.sock"


def engine_address(config: Config, environ: dict[str, str] | None = None) -> str:
    """The engine address in effect: the option, else ``DOCKER_HOST``, else the local socket."""
    env = os.environ if environ is None else environ
    return config.docker_host or env.get("DOCKER_HOST", "") or DEFAULT_HOST


def _find_oserror(err: BaseException) -> OSError | None:
    todo: list[Any] = [err]
    seen: set[int] = set()
    while todo:
        cur = todo.pop()
        if id(cur) in seen or cur is None:
            continue
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno is not None:
            return cur
        if isinstance(cur, BaseException):
            todo.extend([cur.__cause__, cur.__context__, *[a for a in cur.args if isinstance(a, BaseException)]])
            reason = getattr(cur, "reason", None)
            if isinstance(reason, BaseException):
                todo.append(reason)
    return None


def unavailable(address: str, err: BaseException) -> EngineUnavailable:
    """Turn a low-level failure into one actionable line naming the address."""
    os_err = _find_oserror(err)
    code = os_err.errno if os_err else None
    if code in (errno.EACCES, errno.EPERM):
        return EngineUnavailable(
            f"permission denied on the Docker engine at {address}: run as root or add your user to the "
            "'docker' group (or set DOCKER_HOST / --docker-host to an engine you may use)"
        )
    if code == errno.ENOENT:
        why = "no such socket"
    elif code == errno.ECONNREFUSED:
        why = "connection refused"
    elif os_err is not None:
        why = os_err.strerror or str(os_err)
    elif isinstance(err, requests.exceptions.SSLError):
        why = f"TLS failed ({err})"
    elif isinstance(err, requests.exceptions.Timeout):
        why = "timed out"
    else:
        why = str(err).splitlines()[0] if str(err) else type(err).__name__
    return EngineUnavailable(
        f"cannot reach the Docker engine at {address}: {why}; is dockerd running? "
        "Start it, or set DOCKER_HOST / --docker-host to where it listens"
    )


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

    def events(self, since: float | None = None) -> CancellableStream:
        """A decoded stream of container events; ``close()`` from another thread ends it."""
        filters = {"type": ["container"]}
        stream: CancellableStream = self.call(
            lambda: self.api.events(since=since, filters=filters, decode=True)
        )
        return stream

    def stats_stream(self, container: str) -> CancellableStream:
        """A decoded stream of a container's stats documents, one a second; ``close()`` from another thread ends it.

        docker-py's own ``stats(stream=True)`` returns a bare generator that cannot be closed
        from outside, so this builds the same request the way docker-py builds ``events``.

        Raises:
            ContainerNotFound: no such container.
            EngineUnavailable: the engine cannot be reached.
        """

        def open_stream() -> CancellableStream:
            url = self.api._url("/containers/{0}/stats", container)
            response = self.api._get(url, params={"stream": True}, stream=True)
            self.api._raise_for_status(response)
            return CancellableStream(self.api._stream_helper(response, decode=True), response)

        return self.call(open_stream, container)

    def iter_stream(self, stream: Iterator[T]) -> Iterator[T]:
        """Iterate a stream, turning a dropped connection into EngineUnavailable."""
        try:
            yield from stream
        except (requests.exceptions.RequestException, OSError, docker.errors.DockerException) as err:
            raise unavailable(self.address, err) from None

    def close(self) -> None:
        self.api.close()
