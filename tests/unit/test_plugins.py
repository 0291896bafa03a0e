"""Plugin loading: built-ins like external plugins, broken and conflicting plugins, and a
real out-of-tree plugin package installed with pip during the test.

Installed distributions are made two ways: a hand-written ``*.dist-info`` (what pip
leaves behind, enough for ``importlib.metadata``) for the broken plugin, and a real
``pip install --target`` of ``tests/plugin_sample`` for the vendor-style plugin.
Either way the directory goes on ``sys.path`` (or ``PYTHONPATH`` for the CLI), and
``load_plugins()`` finds the entry point exactly as it would in site-packages.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from amphora_compute import hookspecs
from amphora_compute.config import parse_config
from amphora_compute.dispatcher import Dispatcher
from amphora_compute.enums import AmphoraStatus, AmphoraType
from amphora_compute.errors import PluginError
from amphora_compute.hookspecs import hookimpl
from amphora_compute.models import BuildRequest
from amphora_compute.plugins import DEFAULT_PLUGINS, DISABLED_ENV, TRACE_ENV, load_plugins
from amphora_compute.registry import DriverSpec
from amphora_compute.testing.signatures import check_driver_class
from tests.services._proc import unavailable

SAMPLE_SOURCE = Path(__file__).resolve().parent.parent / "plugin_sample"
BUILTIN_NAMES = {dotted.rsplit(".", 1)[-1] for dotted in DEFAULT_PLUGINS}
NOOP_BACKENDS = {"noop-vm", "noop-container", "noop-baremetal", "noop-hardware-lb"}


# -- helpers ------------------------------------------------------------------------------


def amphora_script() -> str:
    """The installed ``amphora`` console script of this interpreter's environment."""
    candidates = [shutil.which("amphora", path=os.path.dirname(sys.executable)),
                  shutil.which("amphora", path=sysconfig.get_path("scripts")),
                  shutil.which("amphora")]
    for found in candidates:
        if found:
            return found
    pytest.fail("the 'amphora' console script is not installed next to "
                f"{sys.executable} (pip install -e .)")


def fake_distribution(root: Path, dist: str, entry_points: dict[str, str],
                      modules: dict[str, str]) -> Path:
    """Write ``modules`` and a ``<dist>-1.0.dist-info`` declaring ``entry_points`` in ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[amphora_compute]\n{lines}")
    return root


@pytest.fixture
def clean_modules() -> Iterator[None]:
    """Forget modules a test imported from its temporary directories."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith(("amphora_broken", "amphora_good", "amphora_dup",
                            "amphora_sample_plugin")):
            del sys.modules[name]


GOOD_PLUGIN = '''
from amphora_compute.enums import AmphoraType
from amphora_compute.hookspecs import hookimpl
from amphora_compute.registry import DriverSpec


@hookimpl
def amphora_compute_drivers():
    return [DriverSpec(backend="good-vm", amphora_type=AmphoraType.VM,
                       target="amphora_compute.drivers.noop:NoopVMDriver")]
'''

BROKEN_PLUGIN = 'raise RuntimeError("broken plugin: exploded on import")\n'


@pytest.fixture
def broken_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                clean_modules: None) -> Path:
    """Two installed plugins: one raises on import, the other is fine."""
    root = tmp_path / "site"
    fake_distribution(root, "amphora-broken-plugin", {"broken": "amphora_broken_plugin"},
                      {"amphora_broken_plugin": BROKEN_PLUGIN})
    fake_distribution(root, "amphora-good-plugin", {"good": "amphora_good_plugin"},
                      {"amphora_good_plugin": GOOD_PLUGIN})
    monkeypatch.syspath_prepend(str(root))
    return root


class _Provides:
    """An in-process plugin object returning fixed specs (what ``extra_plugins`` takes)."""

    def __init__(self, *specs: DriverSpec) -> None:
        self._specs = list(specs)

    @hookimpl
    def amphora_compute_drivers(self) -> list[DriverSpec]:
        return self._specs


class _Raises:
    @hookimpl
    def amphora_compute_drivers(self) -> list[DriverSpec]:
        raise RuntimeError("hook exploded")

    @hookimpl
    def amphora_compute_hardware_profiles(self) -> list[Path]:
        raise OSError("profiles exploded")


def _spec(backend: str, amphora_type: AmphoraType = AmphoraType.VM) -> DriverSpec:
    return DriverSpec(backend=backend, amphora_type=amphora_type,
                      target="amphora_compute.drivers.noop:NoopVMDriver")


# -- built-ins ------------------------------------------------------------------------------


def test_builtins_are_registered_like_external_plugins() -> None:
    plugins = load_plugins(entry_points=False)
    by_name = {p.name: p for p in plugins.plugins}
    assert set(by_name) >= BUILTIN_NAMES, (BUILTIN_NAMES, set(by_name))
    assert all(by_name[n].source == "built-in" for n in BUILTIN_NAMES)
    # the very same pluggy manager holds them, under their short names
    for name in BUILTIN_NAMES:
        assert plugins.manager.has_plugin(name)
    assert set(by_name["noop"].backends) == NOOP_BACKENDS
    for backend in NOOP_BACKENDS:
        spec = plugins.registry.get(backend)
        assert spec.plugin == "noop"
        assert spec.target.startswith("amphora_compute.drivers.noop:")
    assert {s.amphora_type for s in plugins.registry.specs()
            if s.backend in NOOP_BACKENDS} == set(AmphoraType)
    assert plugins.failures == []


def test_registering_a_backend_imports_no_driver_module() -> None:
    code = ("import sys\n"
            "from amphora_compute.plugins import load_plugins\n"
            "p = load_plugins()\n"
            "assert 'noop-vm' in p.registry\n"
            "print(sorted(m for m in sys.modules if m.endswith('.driver') or m in "
            "('openstack', 'zunclient', 'ironicclient', 'netmiko', 'redis')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout


# -- broken, conflicting, raising and blocked plugins -----------------------------------


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_load(
        broken_site: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="amphora_compute")
    plugins = load_plugins()
    failures = {f.name: f for f in plugins.failures}
    assert set(failures) == {"broken"}
    assert failures["broken"].source == "amphora-broken-plugin 1.0"
    assert "RuntimeError" in failures["broken"].error
    assert "exploded on import" in failures["broken"].error
    # the others still loaded: the built-ins and the good entry point, after the broken one
    assert "good-vm" in plugins.registry and {
        s.backend for s in plugins.registry.specs()} >= NOOP_BACKENDS
    assert {p.name: p.source for p in plugins.plugins}["good"] == "amphora-good-plugin 1.0"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING
                and r.name.startswith("amphora_compute")]
    assert any("broken" in r.getMessage() and "exploded on import" in r.getMessage()
               for r in warnings), [r.getMessage() for r in warnings]


def test_amphora_plugins_lists_the_broken_plugin(broken_site: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(broken_site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    run = subprocess.run([amphora_script(), "plugins", "--format", "json"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    rows = {row["plugin"]: row for row in json.loads(run.stdout)}
    assert rows["broken"]["status"] == "FAILED"
    assert "exploded on import" in rows["broken"]["error"]
    assert rows["good"]["status"] == "loaded" and rows["good"]["backends"] == ["good-vm"]
    assert rows["noop"]["status"] == "loaded"
    # the warning reached stderr as one log line, not a traceback
    assert "broken" in run.stderr and "Traceback" not in run.stderr
    table = subprocess.run([amphora_script(), "plugins"], env=env, capture_output=True,
                           text=True, timeout=60)
    assert table.returncode == 0
    broken_line = next(line for line in table.stdout.splitlines()
                       if line.startswith("broken"))
    assert "FAILED" in broken_line and "exploded on import" in broken_line


def test_two_plugins_claiming_one_backend_is_an_error_naming_both() -> None:
    with pytest.raises(PluginError) as info:
        load_plugins(entry_points=False, extra_plugins=[("acme", _Provides(_spec("dup-vm"))),
                                                        ("globex", _Provides(_spec("dup-vm")))])
    message = str(info.value)
    assert "dup-vm" in message and "acme" in message and "globex" in message


def test_an_entry_point_claiming_a_builtin_backend_is_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_modules: None) -> None:
    source = GOOD_PLUGIN.replace('"good-vm"', '"noop-vm"')
    root = fake_distribution(tmp_path / "site", "amphora-dup-plugin",
                             {"dupe": "amphora_dup_plugin"}, {"amphora_dup_plugin": source})
    monkeypatch.syspath_prepend(str(root))
    with pytest.raises(PluginError, match="noop-vm") as info:
        load_plugins()
    assert "noop" in str(info.value) and "dupe" in str(info.value)


def test_an_entry_point_named_like_a_builtin_is_reported_not_swapped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_modules: None) -> None:
    root = fake_distribution(tmp_path / "site", "amphora-good-plugin",
                             {"noop": "amphora_good_plugin"},
                             {"amphora_good_plugin": GOOD_PLUGIN})
    monkeypatch.syspath_prepend(str(root))
    plugins = load_plugins()
    assert [f.name for f in plugins.failures] == ["noop"]
    assert "already registered" in plugins.failures[0].error
    assert plugins.registry.get("noop-vm").plugin == "noop"
    assert "good-vm" not in plugins.registry


def test_a_plugin_whose_hook_raises_is_isolated(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="amphora_compute")
    plugins = load_plugins(entry_points=False, extra_plugins=[
        ("explodes", _Raises()), ("fine", _Provides(_spec("fine-vm")))])
    errors = sorted(f.error for f in plugins.failures if f.name == "explodes")
    assert errors == ["OSError: profiles exploded", "RuntimeError: hook exploded"]
    assert [f.name for f in plugins.failures] == ["explodes", "explodes"]
    assert "fine-vm" in plugins.registry and set(
        s.backend for s in plugins.registry.specs()) >= NOOP_BACKENDS
    assert any("explodes" in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING)
    # the built-in hardware profiles were still collected
    assert any(name == "hardware" for name, _ in plugins.hardware_profiles())


def test_a_hook_returning_something_else_is_a_failure_not_a_crash() -> None:
    class Wrong:
        @hookimpl
        def amphora_compute_drivers(self) -> list[Any]:
            return ["not a spec"]

    plugins = load_plugins(entry_points=False, extra_plugins=[("wrong", Wrong())])
    assert [f.name for f in plugins.failures] == ["wrong"]
    assert "not a DriverSpec" in plugins.failures[0].error


def test_disabled_plugins_env_blocks_a_plugin(broken_site: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLED_ENV, " broken , noop ")
    plugins = load_plugins()
    names = {p.name for p in plugins.plugins}
    assert "noop" not in names and "broken" not in names
    assert not any(s.backend in NOOP_BACKENDS for s in plugins.registry.specs())
    # blocked means never imported: the broken module did not even get to raise
    assert plugins.failures == []
    assert "amphora_broken_plugin" not in sys.modules
    assert "good-vm" in plugins.registry


def test_disabled_argument_and_config_block_too(broken_site: Path) -> None:
    plugins = load_plugins(disabled=["broken"])
    assert plugins.failures == [] and "good-vm" in plugins.registry
    config = parse_config({"plugins": {"disabled": ["good", "broken"]}})
    with Dispatcher(config) as dispatcher:
        assert "good-vm" not in dispatcher.plugins.registry
        assert dispatcher.plugins.failures == []


def test_trace_env_logs_hook_calls(monkeypatch: pytest.MonkeyPatch,
                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="amphora_compute")
    load_plugins(entry_points=False)
    assert "plugin trace" not in caplog.text
    monkeypatch.setenv(TRACE_ENV, "1")
    load_plugins(entry_points=False)
    traced = [r.getMessage() for r in caplog.records if "plugin trace" in r.getMessage()]
    assert any("noop.amphora_compute_drivers" in m and "noop-vm" in m for m in traced), traced


# -- the hooks, datasette-style -------------------------------------------------------------


def _hookspec_names() -> list[str]:
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return sorted(name for name, value in vars(hookspecs).items()
                  if callable(value) and hasattr(value, marker))


def test_every_hookspec_is_documented_and_tested() -> None:
    names = _hookspec_names()
    assert names == sorted(hookspecs.__all__)
    assert names, "no hookspecs found"
    for name in names:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert ":returns:" in doc, f"{name} has no ':returns:' in its docstring"
        assert f"test_hook_{name}" in globals(), f"no test_hook_{name} in {__name__}"


def test_hook_amphora_compute_drivers() -> None:
    spec = DriverSpec(backend="acme-lb", amphora_type="HWLoadBalancer",
                      target="acme.driver:AcmeDriver", extra="acme", description="ACME")
    plugins = load_plugins(entry_points=False, extra_plugins=[("acme", _Provides(spec))])
    got = plugins.registry.get("acme-lb")
    assert got.amphora_type is AmphoraType.HARDWARE_LB
    assert got.plugin == "acme" and got.extra == "acme" and got.description == "ACME"
    assert {p.name: p.backends for p in plugins.plugins}["acme"] == ("acme-lb",)
    assert got in plugins.registry.for_type(AmphoraType.HARDWARE_LB)
    # declared, not imported: the target module does not exist, and that only shows on use
    with pytest.raises(PluginError, match="acme-lb"):
        plugins.registry.driver_class("acme-lb")


def test_hook_amphora_compute_hardware_profiles(tmp_path: Path) -> None:
    from importlib.resources import files

    profile = tmp_path / "acme_adc.toml"
    profile.write_text("schema_version = 1\n")

    class Profiles:
        @hookimpl
        def amphora_compute_hardware_profiles(self) -> list[Any]:
            return [str(profile), files("amphora_compute") / "py.typed"]

    plugins = load_plugins(entry_points=False, extra_plugins=[("acme", Profiles())])
    mine = [item for name, item in plugins.hardware_profiles() if name == "acme"]
    assert mine[0] == profile and isinstance(mine[0], Path)  # a str becomes a Path
    assert mine[1].name == "py.typed" and mine[1].is_file()
    builtin = [item for name, item in plugins.hardware_profiles() if name == "hardware"]
    assert builtin and all(item.name.endswith(".toml") for item in builtin)


# -- a real out-of-tree plugin package -----------------------------------------------------


@pytest.fixture(scope="module")
def sample_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install --target`` of tests/plugin_sample (copied, so the tree stays clean)."""
    work = tmp_path_factory.mktemp("sample-plugin")
    source = work / "src"
    shutil.copytree(SAMPLE_SOURCE, source, ignore=shutil.ignore_patterns(
        "__pycache__", "build", "*.egg-info"))
    target = work / "site"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
               "--disable-pip-version-check", "--target", str(target)]
    # Offline and fast when the build backend is already here; else let pip fetch it.
    has_backend = importlib.util.find_spec("setuptools") is not None and (
        importlib.util.find_spec("wheel") is not None or _setuptools_has_bdist_wheel())
    if has_backend:
        command.append("--no-build-isolation")
    run = subprocess.run([*command, str(source)], capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        unavailable(f"pip could not install the sample plugin: {run.stderr[-2000:]}")
    assert list(target.glob("amphora_sample_plugin-0.1.0.dist-info/entry_points.txt"))
    return target


def _setuptools_has_bdist_wheel() -> bool:
    """setuptools >= 70.1 builds wheels without the ``wheel`` package."""
    return importlib.util.find_spec("setuptools.command.bdist_wheel") is not None


@pytest.fixture
def sample_on_path(sample_site: Path, monkeypatch: pytest.MonkeyPatch,
                   clean_modules: None) -> Path:
    monkeypatch.syspath_prepend(str(sample_site))
    return sample_site


def test_sample_plugin_is_found_through_its_entry_point(sample_on_path: Path) -> None:
    plugins = load_plugins()
    spec = plugins.registry.get("sample-vm")
    assert spec.plugin == "sample" and spec.amphora_type is AmphoraType.VM
    assert spec.target == "amphora_sample_plugin.driver:SampleVMDriver"
    info = {p.name: p for p in plugins.plugins}["sample"]
    assert info.source == "amphora-sample-plugin 0.1.0" and info.backends == ("sample-vm",)
    assert plugins.failures == []
    # declaring the backend did not import the driver module
    assert "amphora_sample_plugin.driver" not in sys.modules


def test_sample_plugin_passes_the_signature_check(sample_on_path: Path) -> None:
    cls = load_plugins().registry.driver_class("sample-vm")
    assert cls.__module__ == "amphora_sample_plugin.driver"
    assert Path(sys.modules[cls.__module__].__file__ or "").is_relative_to(sample_on_path)
    assert check_driver_class(cls) == []


def test_dispatcher_builds_through_the_sample_plugin(sample_on_path: Path) -> None:
    import tomllib

    config = parse_config(tomllib.loads('[types]\nvm = "sample-vm"\n'))
    with Dispatcher(config) as dispatcher:
        amphora_id = dispatcher.build(BuildRequest(name="sample-1", amphora_type="vm"))
        driver = dispatcher.driver(AmphoraType.VM)
        assert type(driver).__name__ == "SampleVMDriver"
        assert ("build", None) in driver.calls  # the call reached the plugin's driver
        record = dispatcher.get_amphora(amphora_id=amphora_id)
        assert (record.backend, record.name, record.status) == (
            "sample-vm", "sample-1", AmphoraStatus.ACTIVE)
        dispatcher.suspend(amphora_id)
        assert dispatcher.status(amphora_id) is AmphoraStatus.SUSPENDED
        dispatcher.delete(amphora_id)
        assert dispatcher.statuses([amphora_id])[amphora_id].status is AmphoraStatus.DELETED
        assert "backend:sample-vm" in {b["name"] for b in dispatcher.breaker_snapshot()}


def test_cli_lists_and_uses_the_sample_plugin(sample_site: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(sample_site),
           "AMPHORA_NOOP_STATE": str(tmp_path / "noop-state.json")}
    script = amphora_script()
    listed = subprocess.run([script, "plugins", "--format", "json"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    rows = {row["plugin"]: row for row in json.loads(listed.stdout)}
    assert rows["sample"] == {"plugin": "sample", "source": "amphora-sample-plugin 0.1.0",
                              "backends": ["sample-vm"], "status": "loaded", "error": None}
    table = subprocess.run([script, "plugins"], env=env, capture_output=True, text=True,
                           timeout=60)
    assert any(line.split()[:1] == ["sample"] and "sample-vm" in line
               for line in table.stdout.splitlines()), table.stdout

    config = tmp_path / "config.toml"
    config.write_text('[types]\nvm = "sample-vm"\n'
                      f'[backends.sample-vm]\nstate_file = "{tmp_path / "sample.json"}"\n')
    types = subprocess.run([script, "types", "--config", str(config), "--format", "json"],
                           env=env, capture_output=True, text=True, timeout=60)
    assert {"type": "vm", "backend": "sample-vm", "plugin": "sample",
            "description": "Sample vendor VM backend (Noop underneath)"} in json.loads(
        types.stdout)
    built = subprocess.run([script, "build", "--type", "vm", "--name", "via-cli", "--config",
                            str(config), "--format", "json"], env=env, capture_output=True,
                           text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    amphora_id = json.loads(built.stdout)["id"]
    shown = subprocess.run([script, "show", amphora_id, "--config", str(config), "--format",
                            "json"], env=env, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["backend"] == "sample-vm"
