"""Where the engine listens, and turning a failure to reach it into one ``EngineUnavailable`` a user can act on."""

from __future__ import annotations

import errno
import os
from typing import Any

import requests.exceptions

from observe.config import Config
from observe.errors import EngineUnavailable

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
