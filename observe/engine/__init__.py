"""The docker-py boundary: the only package that imports docker.

``client`` wraps the engine API, ``streams`` the streams it opens, ``inspect`` translates inspect
documents into ``ContainerInfo`` (pure), ``compose`` creates and removes compose-style replicas.
"""

from __future__ import annotations

from observe.engine.address import DEFAULT_HOST, engine_address
from observe.engine.client import CONTAINER_VERBS, Engine
from observe.engine.streams import ExecSocket, LogStream, Stream, StreamStalled, frame_header, release

__all__ = ["CONTAINER_VERBS", "DEFAULT_HOST", "Engine", "ExecSocket", "LogStream", "Stream", "StreamStalled",
           "engine_address", "frame_header", "release"]
