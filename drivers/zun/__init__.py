"""The Zun plugin: container amphorae on OpenStack Zun (python-zunclient).

This module is what the plugin manager imports; it names the driver class
lazily and imports no client library (the CLI must start fast).  The class
lives in ``amphora_compute.drivers.zun.driver``; its options are documented
in ``amphora_compute.drivers.zun.options``.
"""

from __future__ import annotations

from amphora_compute.enums import AmphoraType
from amphora_compute.hookspecs import hookimpl
from amphora_compute.registry import DriverSpec


@hookimpl
def amphora_compute_drivers() -> list[DriverSpec]:
    return [DriverSpec(backend="zun", amphora_type=AmphoraType.CONTAINER,
                       target="amphora_compute.drivers.zun.driver:ZunDriver", extra="zun",
                       description="Container amphorae on OpenStack Zun (python-zunclient, "
                                   "API microversion 1.40)")]
