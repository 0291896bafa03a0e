"""Hardware profiles, options and scheduling, without any device (no I/O but files)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from amphora_compute.drivers.hardware import scheduler
from amphora_compute.drivers.hardware.profiles import (
    ProfileError,
    decode_meta,
    encode_meta,
    load_profile,
    parse_profile,
)
from amphora_compute.errors import AmphoraBuildError, ConfigError, InvalidRequestError
from amphora_compute.hardware_profiles import profile_files

BUILTIN = {f.name: f for f in profile_files()}


def _linux() -> dict[str, Any]:
    return tomllib.loads(BUILTIN["linux_haproxy.toml"].read_text())


def test_every_builtin_family_loads_and_names_a_netmiko_class() -> None:
    from netmiko.ssh_dispatcher import CLASS_MAPPER

    families = {load_profile(f).family: load_profile(f) for f in BUILTIN.values()}
    assert set(families) == {"linux-haproxy", "f5-bigip", "a10-acos", "citrix-adc"}
    for profile in families.values():
        assert profile.netmiko_device_type in CLASS_MAPPER
    assert families["a10-acos"].naming.length <= 14  # ACOS partition names


def test_the_plugin_module_imports_no_client_library() -> None:
    code = ("import sys, amphora_compute.drivers.hardware as h; "
            "h.amphora_compute_hardware_profiles(); "
            "print(any(m.split('.')[0] in ('netmiko', 'paramiko') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    assert out == "False"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(surprise=1), "unknown keys"),
    (lambda d: d["operations"]["delete"]["commands"].append("rm -rf {victim}"),
     "unknown placeholder"),
    (lambda d: d["operations"]["delete"]["commands"].append("echo {slot"), "stray"),
    (lambda d: d["values"]["listen_port"].update(pattern=".*"), "accepts"),
    (lambda d: d["values"]["listen_port"].update(pattern="[0-9 ;]+"), "accepts"),
    (lambda d: d["device_params"]["bridge"].update(pattern="[a-z$()]+"), "accepts"),
    (lambda d: d["status_map"].update(OPEN="FINE"), "not one of"),
    (lambda d: d["operations"]["list"].update(record="^(?P<slot>x)$"), "named groups"),
    (lambda d: d["naming"].update(length=30, prefix="Bad"), "naming.prefix"),
    (lambda d: d["operations"]["build"]["steps"].append({"upload": "nope"}), "unknown file"),
    (lambda d: d.update(schema_version=2), "schema_version"),
], ids=["top-key", "placeholder", "brace", "lax-pattern", "space-semicolon", "device-param",
        "status", "record-groups", "naming", "upload", "schema"])
def test_invalid_profiles_are_refused(mutate: Any, message: str) -> None:
    data = _linux()
    mutate(data)
    with pytest.raises(ProfileError, match=message):
        parse_profile(data, where="test.toml")


def test_values_are_checked_quoted_and_length_limited() -> None:
    profile = parse_profile(_linux())
    with pytest.raises(InvalidRequestError, match="metadata.backends"):
        profile.values_for_request({"backends": "10.0.0.1:80,10.0.0.2:80;reboot"})
    values = profile.values_for_request({"backends": "10.0.0.1:80, 10.0.0.2:8080"})
    assert values["backends"] == "    server b1 10.0.0.1:80\n    server b2 10.0.0.2:8080"
    assert values["listen_port"] == "80"
    assert profile.quote("ampabc") == "ampabc"
    assert profile.quote("a b'c") == "'a b'\"'\"'c'"
    with pytest.raises(InvalidRequestError, match="characters long"):
        profile.render_command("echo {slot}", {"slot": "x" * 600})


def test_device_params_are_checked() -> None:
    profile = parse_profile(_linux())
    with pytest.raises(ConfigError, match="required"):
        profile.values_for_device({}, "lb1")
    with pytest.raises(ConfigError, match="unknown keys"):
        profile.values_for_device({"bridge": "br0", "extra": "x"}, "lb1")
    with pytest.raises(ConfigError, match="must match"):
        profile.values_for_device({"bridge": "br0;reboot"}, "lb1")
    assert profile.values_for_device({"bridge": "br0"}, "lb1")["state_dir"]


def test_the_stored_mapping_round_trips() -> None:
    meta = encode_meta("web-1", "idem/key:1", 7)
    assert decode_meta(meta) == ("web-1", "idem/key:1", 7)
    assert decode_meta(encode_meta("web-1", None, 1)) == ("web-1", None, 1)
    assert decode_meta('"amp,web,-,3"') == ("web", None, 3)
    assert decode_meta("something else") is None


def test_driver_options_are_checked_without_io(tmp_path: Path) -> None:
    from amphora_compute.drivers.hardware.driver import HardwareDriver

    key = tmp_path / "id"
    key.write_text("x")
    good = {"name": "lb1", "host": "127.0.0.1", "username": "root", "key_file": str(key),
            "profile": "f5-bigip", "capacity": 2, "known_hosts": str(tmp_path / "kh"),
            "slot_network": "192.0.2.0/24"}
    driver = HardwareDriver({"devices": [good]})
    assert driver.ex_connections("lb1") == 0
    driver.close()
    for change, message in [({"surprise": 1}, "unknown key"),
                            ({"password_env": "PW"}, "exactly one"),
                            ({"known_hosts": ""}, "known_hosts"),
                            ({"capacity": 0}, "capacity"),
                            ({"profile": "nope"}, "not a known hardware family"),
                            ({"host": "a;b"}, "host"),
                            ({"slot_network": None}, "slot_network is required"),
                            ({"slot_network": "192.0.2.0/30"}, "no room")]:
        entry = {**good, **change}
        entry = {k: v for k, v in entry.items() if v is not None}
        with pytest.raises(ConfigError, match=message):
            HardwareDriver({"devices": [entry]})


def test_scheduler_picks_the_least_loaded_healthy_device() -> None:
    loads = [scheduler.DeviceLoad("b", 4, amphorae=2), scheduler.DeviceLoad("a", 4, amphorae=2),
             scheduler.DeviceLoad("c", 4, amphorae=1),
             scheduler.DeviceLoad("d", 4, unavailable="breaker open"),
             scheduler.DeviceLoad("e", 1, amphorae=1)]
    assert scheduler.order(loads) == ["c", "a", "b"]
    error = scheduler.no_device_error(loads[3:], name="web")
    assert isinstance(error, AmphoraBuildError)
    assert "d: breaker open" in str(error) and "e: full (1/1)" in str(error)


def test_a_broken_vendor_profile_leaves_the_others_working(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import amphora_compute.plugins as plugins
    from amphora_compute.drivers.hardware import driver as hw

    broken = tmp_path / "broken.toml"
    broken.write_text('schema_version = 1\nfamily = "acme"\nsurprise = 1\n')
    real = plugins.load_plugins

    class _Plugins:
        def hardware_profiles(self) -> list[tuple[str, Any]]:
            return [*real().hardware_profiles(), ("acme", broken)]

    monkeypatch.setattr(plugins, "load_plugins", lambda: _Plugins())
    try:
        profiles = hw.plugin_profiles(refresh=True)
        assert "linux-haproxy" in profiles and "acme" not in profiles
        with pytest.raises(ConfigError, match="unknown keys"):
            hw.HardwareDriver({"devices": [{
                "name": "x", "host": "h", "username": "u", "password_env": "P",
                "profile": "acme", "capacity": 1, "known_hosts": "kh"}]})
    finally:
        monkeypatch.undo()
        hw.plugin_profiles(refresh=True)
