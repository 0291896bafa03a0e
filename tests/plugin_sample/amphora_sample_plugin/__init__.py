"""The plugin module: declares the ``sample-vm`` backend and imports nothing heavy.

The driver class is named as ``"module:Class"``, so declaring it imports
nothing; amphora-compute imports ``amphora_sample_plugin.driver`` the first
time the backend is used.
"""

from __future__ import annotations

from amphora_compute.enums import AmphoraType
from amphora_compute.hookspecs import hookimpl
from amphora_compute.registry import DriverSpec

BACKEND = "sample-vm"


@hookimpl
def amphora_compute_drivers() -> list[DriverSpec]:
    return [DriverSpec(backend=BACKEND, amphora_type=AmphoraType.VM,
                       target="amphora_sample_plugin.driver:SampleVMDriver",
                       description="Sample vendor VM backend (Noop underneath)")]
