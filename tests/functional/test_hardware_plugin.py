# ruff: noqa: F811 - pytest fixtures imported from tests.functional._hardware
"""A vendor package adds a hardware family through the hook, with no code of ours.

The sample package in tests/vendor_plugin_sample is really installed with pip
(into a temporary target directory put on ``sys.path``), found through the
``amphora_compute`` entry-point group, and its ``acme-adc`` family drives an
emulated device.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from amphora_compute.drivers.hardware.driver import plugin_profiles
from amphora_compute.enums import AmphoraStatus, AmphoraType
from amphora_compute.models import BuildRequest
from tests.functional._hardware import (  # noqa: F401 - fixtures
    DriverFactory,
    VendorLab,
    make_driver,
    vendor_lab,
)
from tests.services._proc import cached_venv, unavailable

SAMPLE = Path(__file__).resolve().parent.parent / "vendor_plugin_sample"


@pytest.fixture(scope="module")
def installed_sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """pip-install the sample vendor package into a target dir on sys.path."""
    root = tmp_path_factory.mktemp("vendor")
    source = root / "src"
    shutil.copytree(SAMPLE, source)  # building writes into the source tree: use a copy
    target = root / "site"
    try:
        # setuptools 70.1+ builds wheels without the 'wheel' package; cached between runs.
        builder = cached_venv("vendor-build", ["setuptools>=70.1"])
        subprocess.run([str(builder / "bin" / "python"), "-m", "pip", "install", "-q",
                        "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
                        "--target", str(target), str(source)],
                       check=True, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        unavailable(f"cannot pip-install the sample vendor package: {exc} "
                    f"{getattr(exc, 'stderr', '')}")
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        for name in [m for m in sys.modules if m.startswith("acme_amphora")]:
            del sys.modules[name]
        importlib.invalidate_caches()
        plugin_profiles(refresh=True)


def test_the_sample_family_is_loaded_through_the_hook(installed_sample: Path) -> None:
    assert (installed_sample / "acme_amphora" / "acme_adc.toml").exists()
    profiles = plugin_profiles(refresh=True)
    assert "acme-adc" in profiles
    assert {"linux-haproxy", "f5-bigip", "a10-acos", "citrix-adc"} <= set(profiles)
    assert "acme_amphora" in profiles["acme-adc"].source


def test_the_sample_family_drives_a_device(installed_sample: Path, vendor_lab: VendorLab,
                                           make_driver: DriverFactory) -> None:
    plugin_profiles(refresh=True)
    server = vendor_lab.servers["citrix-adc"]
    driver = make_driver([vendor_lab.device("citrix-adc", "acme1", profile="acme-adc")])
    amphora_id = driver.build(BuildRequest(name="web-acme",
                                           amphora_type=AmphoraType.HARDWARE_LB))
    slot = amphora_id.split(":")[1]
    assert slot.startswith("acme")
    vs = server.call(lambda d: d.partitions[slot].vs)
    assert vs.port == "443"  # the vendor's own template, not a built-in one
    assert driver.status(amphora_id) is AmphoraStatus.ACTIVE
    driver.delete(amphora_id)
    assert server.call(lambda d: slot in d.partitions) is False
