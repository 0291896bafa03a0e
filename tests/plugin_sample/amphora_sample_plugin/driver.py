"""The sample driver: the Noop lifecycle under a vendor's own backend name."""

from __future__ import annotations

from amphora_compute.drivers.noop import NoopDriver
from amphora_compute.enums import AmphoraType, Capability


class SampleVMDriver(NoopDriver):
    """A VM backend a vendor ships in its own package."""

    backend_name = "sample-vm"
    amphora_type = AmphoraType.VM
    capabilities = frozenset({Capability.SUSPEND})
