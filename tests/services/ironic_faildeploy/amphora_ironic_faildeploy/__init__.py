"""Deploy interfaces for Ironic's fake-hardware, for amphora-compute's tests.

* ``amphora-fake``: like Ironic's ``fake`` deploy, but with a real deploy's
  power behaviour: the node is powered on at the end of the deploy (a real
  deploy reboots into the instance) and off at tear down.  Ironic's own fake
  deploy leaves the power alone, so every deployed node would look powered off
  (suspended) to a driver.
* ``amphora-fail``: its deploy step always raises.  A node in maintenance does
  not give a failed deploy (Ironic answers 400 and allocations skip it), so
  this is the honest way to see ``deploy failed`` with ``last_error`` set on a
  fake node.  Switch a node to it with ``PATCH /v1/nodes/<id>
  [{"op": "replace", "path": "/deploy_interface", "value": "amphora-fail"}]``.
"""

from ironic.common import exception, states
from ironic.conductor import utils as manager_utils
from ironic.drivers import base
from ironic.drivers.modules import fake

#: The text the tests look for in the node's ``last_error``.
FAILURE_MESSAGE = "amphora-fail deploy interface: injected deploy failure"


class PoweringFakeDeploy(fake.FakeDeploy):
    """Ironic's FakeDeploy that powers the node on when deployed, off when torn down."""

    @base.deploy_step(priority=100)
    def deploy(self, task):
        super().deploy(task)
        manager_utils.node_power_action(task, states.POWER_ON)

    def tear_down(self, task):
        manager_utils.node_power_action(task, states.POWER_OFF)
        return super().tear_down(task)


class FailingDeploy(fake.FakeDeploy):
    """Like Ironic's FakeDeploy, except that the deploy step raises."""

    @base.deploy_step(priority=100)
    def deploy(self, task):
        raise exception.InstanceDeployFailure(FAILURE_MESSAGE)
