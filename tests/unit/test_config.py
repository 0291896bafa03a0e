"""The TOML config: where it is looked up, what it accepts, and how it says what is wrong.

Every error must be a ``ConfigError`` (a ``ValueError``) whose message names the
key, so an operator can fix the file without reading code.  The conftest's
autouse fixture points ``XDG_CONFIG_HOME`` at a fresh directory and removes
``AMPHORA_COMPUTE_CONFIG``, so nothing here reads the developer's own files.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from amphora_compute.breakers import BreakerRegistry
from amphora_compute.config import (
    DEFAULT_TYPES,
    DEFAULT_WAIT_TIMEOUTS,
    ENV_VAR,
    BreakerSettings,
    Config,
    default_path,
    load_config,
    parse_config,
)
from amphora_compute.dispatcher import Dispatcher
from amphora_compute.enums import AmphoraType
from amphora_compute.errors import ConfigError


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _load_text(tmp_path: Path, text: str) -> Config:
    return load_config(_write(tmp_path / "c.toml", text))


def _error(tmp_path: Path, text: str, *names: str) -> ConfigError:
    """Load ``text``; it must fail with a ConfigError whose message names every ``names``."""
    with pytest.raises(ConfigError) as info:
        _load_text(tmp_path, text)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    for name in names:
        assert name in message, f"{name!r} not named in {message!r}"
    assert "Traceback" not in message and "\n" not in message.strip()
    return info.value


# -- where the file comes from ---------------------------------------------------------


@pytest.fixture
def three_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """An explicit file, an env-var file and an XDG default, each naming its own vm backend."""
    xdg = Path(os.environ["XDG_CONFIG_HOME"])
    files = {
        "explicit": _write(tmp_path / "explicit.toml", '[types]\nvm = "from-explicit"\n'),
        "env": _write(tmp_path / "env.toml", '[types]\nvm = "from-env"\n'),
        "xdg": _write(xdg / "amphora-compute" / "config.toml", '[types]\nvm = "from-xdg"\n'),
    }
    assert default_path() == files["xdg"]
    return files


def test_explicit_path_beats_everything(three_files: dict[str, Path],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(three_files["env"]))
    config = load_config(three_files["explicit"])
    assert config.types[AmphoraType.VM] == "from-explicit"
    assert config.path == three_files["explicit"]
    assert load_config(str(three_files["explicit"])).types[AmphoraType.VM] == "from-explicit"


def test_env_var_beats_the_xdg_default(three_files: dict[str, Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(three_files["env"]))
    assert load_config().types[AmphoraType.VM] == "from-env"
    # the env mapping can also be passed explicitly (the CLI's tests do)
    assert load_config(env={ENV_VAR: str(three_files["env"])}).types[AmphoraType.VM] == \
        "from-env"


def test_xdg_default_beats_the_embedded_default(three_files: dict[str, Path]) -> None:
    config = load_config()
    assert config.types[AmphoraType.VM] == "from-xdg"
    assert config.path == three_files["xdg"]
    # untouched types keep their Noop default
    assert config.types[AmphoraType.CONTAINER] == "noop-container"


def test_an_empty_env_var_is_ignored(three_files: dict[str, Path],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "")
    assert load_config().types[AmphoraType.VM] == "from-xdg"


def test_xdg_falls_back_to_home_dot_config(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    _write(tmp_path / ".config" / "amphora-compute" / "config.toml", '[types]\nvm = "home"\n')
    assert load_config().types[AmphoraType.VM] == "home"


def test_no_file_anywhere_is_the_embedded_all_noop_default() -> None:
    config = load_config()
    assert config.path is None
    assert dict(config.types) == {
        AmphoraType.VM: "noop-vm", AmphoraType.CONTAINER: "noop-container",
        AmphoraType.BAREMETAL: "noop-baremetal", AmphoraType.HARDWARE_LB: "noop-hardware-lb"}
    assert config == Config()
    assert config.breaker == BreakerSettings()
    assert config.redis_url is None and config.pool_size == 32
    assert dict(config.wait_timeouts) == dict(DEFAULT_WAIT_TIMEOUTS)


def test_an_empty_file_is_the_default_too(tmp_path: Path) -> None:
    config = _load_text(tmp_path, "")
    assert dict(config.types) == dict(DEFAULT_TYPES)
    assert config.path == tmp_path / "c.toml"


def test_a_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_config(missing)
    assert str(missing) in str(info.value)


def test_a_missing_env_var_file_is_an_error(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match="gone.toml"):
        load_config()


def test_an_unreadable_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path)  # a directory


def test_invalid_toml(tmp_path: Path) -> None:
    err = _error(tmp_path, "[types\nvm = ", "not valid TOML", "c.toml")
    assert "line 1" in str(err)


# -- what it contains --------------------------------------------------------------------


def test_a_full_config(tmp_path: Path) -> None:
    config = _load_text(tmp_path, """
[types]
VM = "nova"
BareMetal = "ironic"
HWLoadBalancer = "hardware"

[backends.nova]
cloud = "devstack"
timeout = 20

[backends.ironic]
cloud = "bm"

[breakers]
fail_max = 3
reset_timeout = 12.5
success_threshold = 2
redis_url = "redis://127.0.0.1:6379/0"
redis_ttl = 0.25

[breakers.backends.nova]
fail_max = 10

[pool]
max_workers = 8

[timeouts]
vm = 90
baremetal = 2400.5

[plugins]
disabled = ["zun"]

[octavia]
anything = "kept for the octavia adapter"
""")
    assert config.types[AmphoraType.VM] == "nova"
    assert config.types[AmphoraType.BAREMETAL] == "ironic"
    assert config.types[AmphoraType.HARDWARE_LB] == "hardware"
    assert config.types[AmphoraType.CONTAINER] == "noop-container"
    assert config.backend_options("nova") == {"cloud": "devstack", "timeout": 20}
    assert config.backend_options("zun") == {}
    assert config.breaker == BreakerSettings(fail_max=3, reset_timeout=12.5,
                                             success_threshold=2)
    # a per-backend table inherits what it does not set from [breakers]
    assert config.breaker_overrides["nova"] == BreakerSettings(fail_max=10, reset_timeout=12.5,
                                                               success_threshold=2)
    assert config.redis_url == "redis://127.0.0.1:6379/0" and config.redis_ttl == 0.25
    assert config.pool_size == 8 and isinstance(config.pool_size, int)
    assert config.wait_timeouts[AmphoraType.VM] == 90.0
    assert config.wait_timeouts[AmphoraType.BAREMETAL] == 2400.5
    assert config.wait_timeouts[AmphoraType.CONTAINER] == DEFAULT_WAIT_TIMEOUTS[
        AmphoraType.CONTAINER]
    assert config.disabled_plugins == ("zun",)
    assert config.raw["octavia"] == {"anything": "kept for the octavia adapter"}


def test_with_backend_options_copies(tmp_path: Path) -> None:
    config = _load_text(tmp_path, '[backends.noop-vm]\nlatency = 0.1\n')
    other = config.with_backend_options("noop-vm", state_file="/tmp/x")
    assert other.backend_options("noop-vm") == {"latency": 0.1, "state_file": "/tmp/x"}
    assert config.backend_options("noop-vm") == {"latency": 0.1}  # original untouched
    assert other.path == config.path and other.types == config.types


@pytest.mark.parametrize(("text", "names"), [
    ('colour = "blue"\n', ["colour", "top-level"]),
    ('[breaker]\nfail_max = 1\n', ["breaker"]),
    ('types = "nova"\n', ["types", "table"]),
    ('[types]\nmainframe = "x"\n', ["types.mainframe", "unknown amphora type"]),
    ('[types]\nvm = 3\n', ["types.vm"]),
    ('[types]\nvm = ""\n', ["types.vm"]),
    ('[backends]\nnova = "x"\n', ["backends.nova"]),
    ('backends = []\n', ["backends"]),
], ids=["unknown-top-key", "typo-section", "types-not-table", "bad-type-name",
        "backend-not-string", "backend-empty", "backend-not-table", "backends-not-table"])
def test_structure_errors_name_the_key(tmp_path: Path, text: str, names: list[str]) -> None:
    _error(tmp_path, text, *names)


@pytest.mark.parametrize(("text", "key"), [
    ("fail_max = 0", "breakers.fail_max"),
    ("fail_max = -3", "breakers.fail_max"),
    ('fail_max = "5"', "breakers.fail_max"),
    ("fail_max = true", "breakers.fail_max"),
    ("fail_max = 2.5", "breakers.fail_max"),
    ("reset_timeout = 0", "breakers.reset_timeout"),
    ("reset_timeout = -1.0", "breakers.reset_timeout"),
    ("reset_timeout = nan", "breakers.reset_timeout"),
    ("reset_timeout = inf", "breakers.reset_timeout"),
    ('reset_timeout = "30s"', "breakers.reset_timeout"),
    ("success_threshold = 0", "breakers.success_threshold"),
    ("success_threshold = 1.5", "breakers.success_threshold"),
    ("fail_maxx = 3", "fail_maxx"),
    ("redis_ttl = 1.5", "breakers.redis_ttl"),
    ("redis_ttl = -0.1", "breakers.redis_ttl"),
    ("redis_ttl = nan", "breakers.redis_ttl"),
    ("backends = 3", "breakers.backends"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_breaker_numbers(tmp_path: Path, text: str, key: str) -> None:
    _error(tmp_path, f"[breakers]\n{text}\n", key)


@pytest.mark.parametrize(("text", "key"), [
    ("fail_max = 0", "breakers.backends.nova.fail_max"),
    ("fail_max = 1.5", "breakers.backends.nova.fail_max"),
    ("reset_timeout = -5", "breakers.backends.nova.reset_timeout"),
    ("reset_timeout = nan", "breakers.backends.nova.reset_timeout"),
    ("bogus = 1", "breakers.backends.nova"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_per_backend_breaker_overrides(tmp_path: Path, text: str, key: str) -> None:
    _error(tmp_path, f"[breakers.backends.nova]\n{text}\n", key)


def test_redis_settings_are_global_not_per_backend(tmp_path: Path) -> None:
    """A per-backend table cannot take redis_url, and the message must not claim it can."""
    err = _error(tmp_path, '[breakers.backends.nova]\nredis_url = "redis://x"\n',
                 "breakers.backends.nova", "redis_url")
    known = str(err).split("known:", 1)[1]
    assert "redis_url" not in known and "fail_max" in known


def test_a_per_backend_table_must_be_a_table(tmp_path: Path) -> None:
    _error(tmp_path, "[breakers.backends]\nnova = 3\n", "breakers.backends.nova")


def test_per_backend_overrides_inherit_and_differ(tmp_path: Path) -> None:
    config = _load_text(tmp_path, """
[breakers]
fail_max = 4
reset_timeout = 60

[breakers.backends.noop-vm]
fail_max = 1

[breakers.backends.hardware]
reset_timeout = 5
""")
    assert config.breaker == BreakerSettings(fail_max=4, reset_timeout=60.0)
    assert config.breaker_overrides["noop-vm"] == BreakerSettings(fail_max=1, reset_timeout=60.0)
    assert config.breaker_overrides["hardware"] == BreakerSettings(fail_max=4, reset_timeout=5.0)
    registry = BreakerRegistry(config.breaker, config.breaker_overrides)
    # a per-device breaker of the hardware driver ("hardware:<device>") takes its backend's
    assert registry.settings_for("hardware:lb-1").reset_timeout == 5.0
    assert registry.settings_for("hardware:lb-1").fail_max == 4


def test_per_backend_override_reaches_the_dispatchers_breaker(tmp_path: Path) -> None:
    config = _load_text(tmp_path, """
[breakers]
fail_max = 4

[breakers.backends.noop-vm]
fail_max = 1
reset_timeout = 99
""")
    with Dispatcher(config) as dispatcher:
        rows = {row["name"]: row for row in dispatcher.breaker_snapshot()}
    assert rows["backend:noop-container"]["fail_max"] == 4
    assert (rows["backend:noop-vm"]["fail_max"], rows["backend:noop-vm"]["reset_timeout"]) \
        == (1, 99.0)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://cache.example:6380",
                                 "unix:///run/redis.sock"])
def test_redis_url_accepted_forms(tmp_path: Path, url: str) -> None:
    assert _load_text(tmp_path, f'[breakers]\nredis_url = "{url}"\n').redis_url == url


@pytest.mark.parametrize("value", ['"http://127.0.0.1:6379"', '"127.0.0.1:6379"', '""', "6379",
                                   '["redis://x"]'])
def test_redis_url_rejected_forms(tmp_path: Path, value: str) -> None:
    _error(tmp_path, f"[breakers]\nredis_url = {value}\n", "breakers.redis_url")


@pytest.mark.parametrize(("text", "ok"), [("max_workers = 1", 1), ("max_workers = 200", 200)])
def test_pool_max_workers(tmp_path: Path, text: str, ok: int) -> None:
    assert _load_text(tmp_path, f"[pool]\n{text}\n").pool_size == ok


@pytest.mark.parametrize(("text", "key"), [
    ("max_workers = 0", "pool.max_workers"),
    ("max_workers = -4", "pool.max_workers"),
    ("max_workers = 2.7", "pool.max_workers"),
    ('max_workers = "8"', "pool.max_workers"),
    ("max_worker = 8", "max_worker"),
    ("threads = 8", "threads"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_pool(tmp_path: Path, text: str, key: str) -> None:
    _error(tmp_path, f"[pool]\n{text}\n", key)


def test_pool_must_be_a_table(tmp_path: Path) -> None:
    _error(tmp_path, "pool = 8\n", "pool")


@pytest.mark.parametrize(("text", "key"), [
    ("vm = 0", "timeouts.vm"),
    ("vm = -1", "timeouts.vm"),
    ('vm = "10m"', "timeouts.vm"),
    ("vm = nan", "timeouts.vm"),
    ("vm = inf", "timeouts.vm"),
    ("mainframe = 10", "timeouts.mainframe"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_timeouts(tmp_path: Path, text: str, key: str) -> None:
    _error(tmp_path, f"[timeouts]\n{text}\n", key)


def test_timeouts_accept_any_type_spelling(tmp_path: Path) -> None:
    config = _load_text(tmp_path, "[timeouts]\nHWLoadBalancer = 15\ncontainer = 0.5\n")
    assert config.wait_timeouts[AmphoraType.HARDWARE_LB] == 15.0
    assert config.wait_timeouts[AmphoraType.CONTAINER] == 0.5
    assert all(math.isfinite(v) for v in config.wait_timeouts.values())


@pytest.mark.parametrize(("text", "key"), [
    ('disabled = "zun"', "plugins.disabled"),
    ("disabled = [1]", "plugins.disabled"),
    ('enabled = ["x"]', "enabled"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_plugins_section(tmp_path: Path, text: str, key: str) -> None:
    _error(tmp_path, f"[plugins]\n{text}\n", key)


def test_parse_config_is_load_config_without_the_file() -> None:
    config = parse_config({"types": {"container": "zun"}, "pool": {"max_workers": 4}})
    assert config.types[AmphoraType.CONTAINER] == "zun" and config.pool_size == 4
    assert config.path is None
    with pytest.raises(ConfigError, match="pool.max_workers"):
        parse_config({"pool": {"max_workers": 0}})
