"""A deploy interface for Ironic's fake-hardware whose deploy step always fails.

Why: a node in maintenance does not give a failed deploy (Ironic answers 400
and allocations skip it), so the only honest way to see ``deploy failed`` with
``last_error`` set on a fake node is a deploy step that raises.  Switch a node
to it with ``PATCH /v1/nodes/<id> [{"op": "replace", "path": "/deploy_interface",
"value": "amphora-fail"}]``.
"""

from ironic.common import exception
from ironic.drivers import base
from ironic.drivers.modules import fake

#: The text the tests look for in the node's ``last_error``.
FAILURE_MESSAGE = "amphora-fail deploy interface: injected deploy failure"


class FailingDeploy(fake.FakeDeploy):
    """Like Ironic's FakeDeploy, except that the deploy step raises."""

    @base.deploy_step(priority=100)
    def deploy(self, task):
        raise exception.InstanceDeployFailure(FAILURE_MESSAGE)
