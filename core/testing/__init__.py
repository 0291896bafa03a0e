"""The contract suite, shipped so that every driver (built-in or vendor) runs it.

``amphora_compute.testing.plugin`` is registered as a pytest plugin
(``pytest11``); it adds the ``--amphora-driver`` option and the fixtures.  A
driver's test module subclasses ``DriverContract``::

    from amphora_compute.testing.contract import DriverContract

    class TestAcmeContract(DriverContract):
        @pytest.fixture
        def compute_driver(self):
            driver = AcmeDriver({...})
            yield driver
            driver.close()
"""
