"""The config drive an Ironic node boots with, given to Ironic as a dict (API 1.56+).

Ironic builds the ISO itself from ``meta_data``, ``user_data`` and
``network_data`` (so no genisoimage is needed here).  The spec's
``config_drive_files`` travel as cloud-init ``write_files`` merged into the
caller's user_data (``amphora_compute.cloudinit``), which is the one delivery
path every backend shares.  Nothing here logs, since the result holds secrets.
"""

from __future__ import annotations

import uuid
from typing import Any

from amphora_compute.cloudinit import merge_user_data
from amphora_compute.errors import InvalidRequestError
from amphora_compute.models import BuildRequest


def build_configdrive(request: BuildRequest, node_uuid: str) -> dict[str, Any]:
    """``{"meta_data": ..., "user_data": ..., "network_data": ...}`` for ``request``.

    ``meta_data`` follows the OpenStack metadata format cloud-init reads
    (``uuid``, ``name``, ``hostname``, ``public_keys``); ``user_data`` is text
    (multipart MIME when there are files); ``network_data`` is present only
    when the request names ports.
    """
    meta: dict[str, Any] = {
        "uuid": node_uuid,
        "name": request.name,
        "hostname": request.name,
        "launch_index": 0,
        "availability_zone": request.availability_zone or "",
        "meta": dict(request.metadata),
    }
    if request.ssh_keys:
        meta["public_keys"] = {str(i): key for i, key in enumerate(request.ssh_keys)}
    drive: dict[str, Any] = {"meta_data": meta}
    user_data = merge_user_data(request.user_data, request.config_drive_files)
    if user_data:
        try:
            drive["user_data"] = user_data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequestError("Ironic's config drive takes user_data as text (UTF-8); "
                                      "binary user_data is only sent inside a multipart "
                                      "document, i.e. together with config_drive_files",
                                      field="user_data") from None
    if request.port_ids:
        drive["network_data"] = network_data(request.port_ids)
    return drive


def network_data(port_ids: tuple[str, ...]) -> dict[str, Any]:
    """A minimal OpenStack ``network_data.json``: one DHCP network per attached port.

    Without Neutron the driver knows no MAC addresses or subnets, so each
    port becomes a link named after its VIF id with DHCP on it; cloud-init
    matches links by name when no MAC is given.
    """
    links = [{"id": f"tap{port[:11]}", "vif_id": port, "type": "phy"} for port in port_ids]
    networks = [{"id": f"network{i}", "link": link["id"], "type": "ipv4_dhcp",
                 "network_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"vif:{link['vif_id']}"))}
                for i, link in enumerate(links)]
    return {"links": links, "networks": networks, "services": []}
