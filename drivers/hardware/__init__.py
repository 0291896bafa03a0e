"""The hardware plugin: load-balancer amphorae on dedicated devices over SSH (netmiko).

This module is what the plugin manager imports: it names the driver class
lazily and imports no client library (netmiko is imported only when the
``hardware`` backend is first used).  It also returns the built-in hardware
profiles through ``amphora_compute_hardware_profiles``, the same hook a vendor
package uses to add a device family::

    # pyproject.toml of a vendor package
    [project.entry-points.amphora_compute]
    acme = "acme_amphora.plugin"

    # acme_amphora/plugin.py
    from importlib.resources import files
    from amphora_compute.hookspecs import hookimpl

    @hookimpl
    def amphora_compute_hardware_profiles():
        return [files("acme_amphora") / "acme_adc.toml"]
"""

from __future__ import annotations

from importlib.abc import Traversable

from amphora_compute.enums import AmphoraType
from amphora_compute.hookspecs import hookimpl
from amphora_compute.registry import DriverSpec


@hookimpl
def amphora_compute_drivers() -> list[DriverSpec]:
    return [DriverSpec(backend="hardware", amphora_type=AmphoraType.HARDWARE_LB,
                       target="amphora_compute.drivers.hardware.driver:HardwareDriver",
                       extra="hardware",
                       description="Slots on SSH-managed load balancers (netmiko): Linux + "
                                   "HAProxy, F5 BIG-IP, A10 ACOS, Citrix ADC")]


@hookimpl
def amphora_compute_hardware_profiles() -> list[Traversable]:
    from amphora_compute.hardware_profiles import profile_files

    return list(profile_files())
