"""Configuration, 12-factor: every option is a flag, an ``OBSERVE_*`` variable and a TOML key.

Precedence is flag > environment > file > default, and every resolved value remembers where
it came from so that ``observe config`` can say so. Options are defined once, as data, in
``OPTIONS``; the CLI builds its flags from that table.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from observe.errors import ConfigError
from observe.model import DEFAULT_LABEL_ALLOWLIST
from observe.selectors import LabelSelector, Selection
from observe.units import parse_bool, parse_duration, parse_size
from observe.webauth import BasicAuth

LOG_LEVELS = ("debug", "info", "warning", "error")


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in allowed:
            raise ValueError(f"{text!r} is not one of {', '.join(allowed)}")
        return value

    return parse


def _bool(text: str) -> bool:
    return parse_bool(text, empty=False)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise ValueError(f"{text!r} must be above zero")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise ValueError(f"{text!r} must be 0 or more")
    return value


def _positive_duration(text: str) -> float:
    value = parse_duration(text)
    if value <= 0:
        raise ValueError(f"{text!r} must be above zero")
    return value


def _label_key(text: str) -> str:
    value = text.strip()
    if not value or "," in value or "=" in value:
        raise ValueError(f"{text!r} is not a label key")
    return value


def _text(text: str) -> str:
    return text


def _size(text: str) -> int:
    value = parse_size(text)
    if value < 1024:
        raise ValueError(f"{text!r} is below 1 KiB")
    return value


def _size_or_zero(text: str) -> int:
    return 0 if text.strip() in ("0", "") else _size(text)


def _format(text: str) -> str:
    return _choice("logstash", "json", "text")(text)


def _level(text: str) -> str:
    return _choice("trace", "debug", "info", "notice", "warn", "error", "critical", "fatal")(text)


def _duration(text: str) -> float:
    return parse_duration(text)


def _http_url(text: str) -> str:
    value = text.strip()
    if value and not value.startswith(("http://", "https://")):
        raise ValueError(f"{text!r} is not an http:// or https:// URL")
    return value


def _host_port(text: str) -> str:
    value = text.strip()
    host, sep, port = value.rpartition(":")
    if value and (not sep or not host or not port.isdigit() or not 0 < int(port) < 65536):
        raise ValueError(f"{text!r} is not host:port")
    return value


def _host(text: str) -> str:
    value = text.strip()
    if value and "://" not in value:
        raise ValueError(f"{text!r} is not an engine address (unix://, tcp://, ssh://)")
    return value


@dataclass(frozen=True, slots=True)
class Option:
    """One configuration option: its field, flag, environment variable and parser."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    metavar: str = "VALUE"
    repeatable: bool = False
    env_name: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return self.env_name or "OBSERVE_" + self.name.upper()


OPTIONS: tuple[Option, ...] = (
    Option("log_level", _choice(*LOG_LEVELS), "info", "level of observe's own logs", "LEVEL"),
    Option("log_format", _choice("json", "text"), "json", "format of observe's own logs on stderr", "FORMAT"),
    Option(
        "docker_host", _host, "",
        "engine address (unix://, tcp://, ssh://); empty means DOCKER_HOST or the local socket", "URL",
    ),
    Option("docker_tls_verify", _bool, False, "verify the engine's TLS certificate (DOCKER_TLS_VERIFY)", "BOOL"),
    Option("docker_cert_path", _text, "", "folder with ca.pem, cert.pem, key.pem (DOCKER_CERT_PATH)", "DIR"),
    Option("docker_timeout", _positive_duration, 10.0, "timeout of one engine API call", "DURATION"),
    Option(
        "label_selector", LabelSelector.parse, LabelSelector(),
        "select containers by label, Kubernetes syntax: 'app=web,tier!=db,canary,!legacy'", "SELECTOR",
    ),
    Option("name", _text, (), "container name glob, repeatable; a leading ! excludes", "GLOB", repeatable=True),
    Option(
        "image", _text, (), "image glob (repo or repo:tag), repeatable; a leading ! excludes", "GLOB", repeatable=True,
    ),
    Option(
        "service_label", _label_key, "",
        "label key that names a container's service group, before compose/swarm/kubernetes labels", "KEY",
    ),
    Option(
        "label_allowlist", _label_key, DEFAULT_LABEL_ALLOWLIST,
        "label keys copied into log records and metric labels (container_label_<key>), repeatable; '*' for "
        "every label (cAdvisor's default); default: compose project/service, swarm service and stack, "
        "kubernetes pod/namespace/container, org.label-schema.group", "KEY", repeatable=True,
    ),
    Option("host_name", _text, "", "host.name of every record (empty: the engine's host name)", "NAME"),
    Option("state_dir", _text, "/var/lib/observe", "where checkpoints are kept", "DIR"),
    Option("interval", _positive_duration, 1.0, "stats sampling interval", "DURATION"),
    Option("listen", _text, "127.0.0.1:10077", "exporter address host:port", "ADDR"),
    Option("cgroup_root", _text, "/sys/fs/cgroup", "where the host's cgroup filesystem is mounted", "DIR"),
    Option("proc_root", _text, "/proc", "where the host's /proc is mounted", "DIR"),
    Option("percpu", _bool, True, "cgroup v1: CPU usage per CPU (cpu=\"cpu00\"...) as cAdvisor does; false: one "
           "cpu=\"total\" series per container (cgroup v2 always has only the total)", "BOOL"),
    Option("disk_usage_interval", _duration, 60.0, "how often each container's writable layer is measured for "
           "container_fs_usage_bytes (0: never); the walk is paced to a twentieth of a core", "DURATION"),
    Option("read_only", _bool, False, "TUI: no exec and no container actions", "BOOL"),
    Option(
        "sink", _text, ("stdout",), "where `observe run` sends records, a URL, repeatable "
        "(stdout, file:///path, tcp://host:port, fluentd://host:24224, syslog+tcp://host:514)", "URL",
        repeatable=True, env_name="OBSERVE_SINKS",
    ),
    Option("own_logs_fluentd", _host_port, "",
           "also ship observe's own logs to this Fluentd forward input (host:port, via fluent-logger)", "HOST:PORT"),
    Option("output_format", _format, "logstash", "record format: logstash (nested), json (flat dotted keys), text",
           "FORMAT"),
    Option("reader", _choice("auto", "api", "json-file"), "auto",
           "log reader: json-file files when local, else the engine API (auto)", "READER"),
    Option("read_from_head", _bool, False,
           "on the first start, read containers already running from their first line (not from now)", "BOOL"),
    Option("workers", _count, 0,
           "observe run: processes that share the followed containers (0: one per core; 1: all in one)", "N"),
    Option("cpu_affinity", _choice("auto", "none"), "auto",
           "observe run: keep each collecting process on one CPU (auto: worker k on the k-th CPU it may use, "
           "one process on the CPU it starts on, unless there are more workers than CPUs; none: wherever "
           "the kernel puts it)", "MODE"),
    Option("split_backlog", _size_or_zero, 8 << 20,
           "observe run: a container's unread json-file log of this size or more is read by two processes, "
           "when a second core and temporary space are free (0: never)", "SIZE"),
    Option("json_key", _text, "", "key under which an app's extra JSON fields go (empty: top level)", "KEY"),
    Option("stdout_level", _level, "info", "log.level of stdout lines that name no level", "LEVEL"),
    Option("stderr_level", _level, "error", "log.level of stderr lines that name no level", "LEVEL"),
    Option("strip_ansi", _bool, True, "remove ANSI colour codes from messages", "BOOL"),
    Option("max_line_bytes", _size, 1 << 20, "longer lines are truncated and flagged log.truncated", "SIZE"),
    Option("multiline", _bool, True, "merge stack traces and indented continuations into one record", "BOOL"),
    Option("flush_timeout", _positive_duration, 1.0, "longest a held multi-line record waits", "DURATION"),
    Option("drop_blank_lines", _bool, False,
           "leave out the records of empty and whitespace-only lines (counted as blank_dropped)", "BOOL"),
    Option("stall_timeout", _positive_duration, 10.0, "API reader: reopen a log stream silent this long", "DURATION"),
    Option("stop_timeout", _positive_duration, 10.0, "on SIGTERM, how long to drain records to the sinks",
           "DURATION"),
    Option("web_tls_cert", _text, "", "exporter: TLS certificate (PEM); with --web-tls-key serves HTTPS", "FILE"),
    Option("web_tls_key", _text, "", "exporter: TLS private key (PEM)", "FILE"),
    Option(
        "web_basic_auth", BasicAuth.parse, None,
        "exporter: require USER:PASSWORD or USER:sha256:<hex> (prefer the env var or file: flags show in ps)",
        "USER:SECRET",
    ),
    Option("autoscale_interval", _duration, 0.0,
           "autoscaling: time between two evaluations (0: every sampling interval)", "DURATION"),
    Option("autoscale_window", _positive_duration, 30.0,
           "autoscaling: CPU and error rates are averaged over this much recent history", "DURATION"),
    Option("autoscale_readiness_delay", _duration, 30.0,
           "autoscaling: a replica started this recently is not ready (its CPU samples are set aside)",
           "DURATION"),
    Option("autoscale_webhook", _http_url, "",
           "autoscaling: POST each decision as JSON to this URL when a service's desired replicas change", "URL"),
    Option("autoscale_command", _text, "",
           "autoscaling: run this shell command on each change, the decision JSON on stdin and "
           "OBSERVE_SERVICE/OBSERVE_DESIRED/OBSERVE_CURRENT set", "CMD"),
    Option("autoscale_apply", _bool, False,
           "autoscaling: really create and remove compose replicas (default: dry run, log what it would do)",
           "BOOL"),
)
OPTIONS_BY_NAME = {o.name: o for o in OPTIONS}


@dataclass(frozen=True, slots=True)
class Config:
    """The effective configuration. ``sources`` maps each option to where its value came from."""

    log_level: str = "info"
    log_format: str = "json"
    docker_host: str = ""
    docker_tls_verify: bool = False
    docker_cert_path: str = ""
    docker_timeout: float = 10.0
    label_selector: LabelSelector = field(default_factory=LabelSelector)
    name: tuple[str, ...] = ()
    image: tuple[str, ...] = ()
    service_label: str = ""
    label_allowlist: tuple[str, ...] = DEFAULT_LABEL_ALLOWLIST
    host_name: str = ""
    state_dir: str = "/var/lib/observe"
    interval: float = 1.0
    listen: str = "127.0.0.1:10077"
    cgroup_root: str = "/sys/fs/cgroup"
    proc_root: str = "/proc"
    percpu: bool = True
    disk_usage_interval: float = 60.0
    read_only: bool = False
    sink: tuple[str, ...] = ("stdout",)
    own_logs_fluentd: str = ""
    output_format: str = "logstash"
    reader: str = "auto"
    read_from_head: bool = False
    workers: int = 0
    cpu_affinity: str = "auto"
    split_backlog: int = 8 << 20
    json_key: str = ""
    stdout_level: str = "info"
    stderr_level: str = "error"
    strip_ansi: bool = True
    max_line_bytes: int = 1 << 20
    multiline: bool = True
    flush_timeout: float = 1.0
    drop_blank_lines: bool = False
    stall_timeout: float = 10.0
    stop_timeout: float = 10.0
    web_tls_cert: str = ""
    web_tls_key: str = ""
    web_basic_auth: BasicAuth | None = None
    autoscale_interval: float = 0.0
    autoscale_window: float = 30.0
    autoscale_readiness_delay: float = 30.0
    autoscale_webhook: str = ""
    autoscale_command: str = ""
    autoscale_apply: bool = False
    config_file: str = ""
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def selection(self) -> Selection:
        return Selection(self.label_selector, self.name, self.image)

    def effective(self) -> list[tuple[str, Any, str]]:
        """(option, value as text, source) for every option, in table order."""
        return [(o.name, _show(getattr(self, o.name)), self.sources.get(o.name, "default")) for o in OPTIONS]


def _show(value: Any) -> Any:
    if isinstance(value, LabelSelector):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _fail(option: Option, where: str, raw: object, err: Exception) -> ConfigError:
    return ConfigError(f"invalid value for {option.flag} ({where}): {err}")


def _from_text(option: Option, raw: str, where: str) -> Any:
    try:
        if option.repeatable:
            return tuple(option.parse(part.strip()) for part in raw.split(",") if part.strip())
        return option.parse(raw)
    except ValueError as err:
        raise _fail(option, where, raw, err) from None


def _from_toml(option: Option, raw: object, where: str) -> Any:
    if option.repeatable and isinstance(raw, list):
        try:
            return tuple(option.parse(str(item)) for item in raw)
        except ValueError as err:
            raise _fail(option, where, raw, err) from None
    if isinstance(raw, bool):
        raw = "true" if raw else "false"
    if isinstance(raw, (int, float, str)):
        return _from_text(option, str(raw), where)
    raise ConfigError(f"invalid value for {option.flag} ({where}): {raw!r} has the wrong type")


def read_toml(path: str) -> dict[str, Any]:
    """Read a TOML config file; keys may use ``-`` or ``_``.

    Raises:
        ConfigError: the file is missing, unreadable, malformed, or names unknown options.
    """
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist (--config / OBSERVE_CONFIG)") from None
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in OPTIONS_BY_NAME and not isinstance(value, dict):
            raise ConfigError(f"config file {path}: unknown option {key!r}")
        out[name] = value
    return out


def load_config(
    flags: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    config_file: str | None = None,
) -> Config:
    """Resolve every option from flags, environment, the TOML file and defaults.

    Args:
        flags: values given on the command line, by option name (strings, or lists of
            strings for repeatable options); absent options are not in the mapping.
        env: the environment (``os.environ`` when None).
        config_file: path of the TOML file; when None, ``OBSERVE_CONFIG`` is consulted.

    Raises:
        ConfigError: a value is invalid; the message names the option and its source.
    """
    environ = os.environ if env is None else env
    path = config_file if config_file else environ.get("OBSERVE_CONFIG", "")
    file_values = read_toml(path) if path else {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        if option.name in flags and flags[option.name] is not None:
            raw = flags[option.name]
            if option.repeatable and isinstance(raw, list):
                try:
                    values[option.name] = tuple(option.parse(item) for item in raw)
                except ValueError as err:
                    raise _fail(option, "flag", raw, err) from None
            else:
                values[option.name] = _from_text(option, str(raw), "flag")
            sources[option.name] = "flag"
        elif option.env in environ:
            values[option.name] = _from_text(option, environ[option.env], f"env {option.env}")
            sources[option.name] = f"env {option.env}"
        elif option.name in file_values:
            values[option.name] = _from_toml(option, file_values[option.name], f"file {path}")
            sources[option.name] = f"file {path}"
    known = {f.name for f in fields(Config)}
    unknown = set(values) - known
    assert not unknown, unknown
    return replace(Config(), **values, config_file=path, sources=sources)

