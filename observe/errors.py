"""One exception root for everything observe raises on purpose.

Library code raises these with a message meant for the user; only the CLI turns them into
exit codes and only the TUI into notifications.
"""

from __future__ import annotations


class ObserveError(Exception):
    """Root of observe's own errors. ``str(error)`` is a complete, user-facing line."""

    exit_code = 1


class ConfigError(ObserveError):
    """A configuration value is invalid; the message names the option."""

    exit_code = 2


class EngineUnavailable(ObserveError):
    """The Docker engine cannot be reached or refuses us; the message names the address."""

    exit_code = 2


class ContainerNotFound(ObserveError):
    """A container named by the user does not exist (or vanished)."""

    exit_code = 1
