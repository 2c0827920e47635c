from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from observe.config import OPTIONS, Config, load_config
from observe.errors import ConfigError
from observe.units import parse_duration


def test_option_table_and_config_agree() -> None:
    names = {f.name for f in fields(Config)} - {"sources", "config_file"}
    assert names == {o.name for o in OPTIONS}
    for option in OPTIONS:
        assert getattr(Config(), option.name) == option.default, option.name


def test_precedence_flag_env_file_default(tmp_path: Path) -> None:
    toml = tmp_path / "observe.toml"
    toml.write_text('interval = "3s"\nlog-level = "debug"\nname = ["from-file"]\nlisten = "127.0.0.1:1"\n')
    env = {"OBSERVE_INTERVAL": "2s", "OBSERVE_NAME": "a,!b", "OBSERVE_CONFIG": str(toml)}
    cfg = load_config({"interval": "1500ms"}, env)
    assert cfg.interval == 1.5 and cfg.sources["interval"] == "flag"
    assert cfg.name == ("a", "!b") and cfg.sources["name"] == "env OBSERVE_NAME"
    assert cfg.log_level == "debug" and cfg.sources["log_level"] == f"file {toml}"
    assert cfg.listen == "127.0.0.1:1"
    assert cfg.sources.get("state_dir") is None and cfg.state_dir == "/var/lib/observe"
    rows = {name: source for name, _, source in cfg.effective()}
    assert rows["state_dir"] == "default"


@pytest.mark.parametrize(
    ("flags", "env", "needle"),
    [
        ({"interval": "soon"}, {}, "--interval (flag)"),
        ({}, {"OBSERVE_LOG_FORMAT": "xml"}, "--log-format (env OBSERVE_LOG_FORMAT)"),
        ({"label_selector": "app=web,,x"}, {}, "--label-selector"),
        ({"label_selector": "bad key=1"}, {}, "--label-selector"),
        ({}, {"OBSERVE_READ_ONLY": "maybe"}, "--read-only"),
        ({"docker_host": "localhost:2375"}, {}, "--docker-host"),
    ],
)
def test_invalid_values_name_the_option(flags: dict[str, str], env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(flags, env)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_config_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("interval = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config({}, {}, str(bad))
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("intervall = 1\n")
    with pytest.raises(ConfigError, match="unknown option 'intervall'"):
        load_config({}, {}, str(unknown))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config({}, {"OBSERVE_CONFIG": str(tmp_path / "none.toml")})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("500ms", 0.5), ("2m30s", 150.0), ("1.5", 1.5), ("1h", 3600.0), ("250us", 0.00025)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "1x", "-1s", "1s2", "nan", "1 s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
