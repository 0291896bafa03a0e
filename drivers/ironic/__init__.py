"""The Ironic plugin: bare-metal amphorae on OpenStack Ironic (python-ironicclient).

This module is what the plugin manager imports; it names the driver class
lazily and imports no client library (the CLI must start fast).  The class
lives in ``amphora_compute.drivers.ironic.driver``; its options are documented
in ``amphora_compute.drivers.ironic.options``.
"""

from __future__ import annotations

from amphora_compute.enums import AmphoraType
from amphora_compute.hookspecs import hookimpl
from amphora_compute.registry import DriverSpec


@hookimpl
def amphora_compute_drivers() -> list[DriverSpec]:
    return [DriverSpec(backend="ironic", amphora_type=AmphoraType.BAREMETAL,
                       target="amphora_compute.drivers.ironic.driver:IronicDriver",
                       extra="ironic",
                       description="Bare-metal amphorae on OpenStack Ironic (python-ironicclient,"
                                   " allocation API, config drive as a dict; API 1.78)")]
