"""The contract suite against every registered Noop plugin (the design card's default)."""

from amphora_compute.testing.contract import DriverContract


class TestNoopContract(DriverContract):
    """``compute_driver`` comes from the pytest plugin, parametrized over noop-*."""
