"""The Nova plugin: VM amphorae on OpenStack Nova (openstacksdk).

This module is what the plugin manager imports; it names the driver class
lazily and imports no client library (the CLI must start fast).  The class
lives in ``amphora_compute.drivers.nova.driver``; its options are documented
in ``amphora_compute.drivers.nova.options``.
"""

from __future__ import annotations

from amphora_compute.enums import AmphoraType
from amphora_compute.hookspecs import hookimpl
from amphora_compute.registry import DriverSpec


@hookimpl
def amphora_compute_drivers() -> list[DriverSpec]:
    return [DriverSpec(backend="nova", amphora_type=AmphoraType.VM,
                       target="amphora_compute.drivers.nova.driver:NovaDriver", extra="nova",
                       description="VM amphorae on OpenStack Nova (openstacksdk, newest "
                                   "microversion; 2.56 only for file injection)")]
