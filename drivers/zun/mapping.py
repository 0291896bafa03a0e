"""A ``BuildRequest`` -> the body of Zun's ``POST /v1/containers?run=true`` (no I/O).

Everything here runs before any backend call, so a request that cannot fit
Zun raises ``InvalidRequestError`` naming the field.  How each part of the
request reaches the container:

* image: an image id is Zun's ``image`` (a Docker reference, or a Glance
  image with ``image_driver = "glance"``); a tag is looked up in the
  ``images`` option (``"tag@owner"`` first when an owner is given); Zun has
  no image tags of its own.
* flavor: a backend flavor name is looked up in ``flavors``; a neutral flavor
  maps directly: vcpus -> ``cpu``, ram_mb -> ``memory`` (MiB), disk_gb ->
  ``disk`` (GiB).
* config-drive files: one Zun bind mount each (``{"type": "bind", "source":
  <contents>, "destination": <path>}``; zunclient base64-encodes the contents
  and Zun writes them to a file it bind-mounts at the path).
* ssh keys: one bind mount, an ``authorized_keys`` file at ``ssh_keys_path``.
* user_data: one bind mount at ``user_data_path`` (cloud-init's NoCloud seed
  by default, with a ``meta-data`` file beside it), and its path in the
  ``AMPHORA_USER_DATA`` environment variable.
* labels: the project's marker, the idempotency key, the flavor, the
  availability zone and server group (Zun does not report them back), plus
  the request's metadata and the ``labels`` option.
* server group: scheduler hint ``group``; networks and ports: ``nets``.
"""

from __future__ import annotations

import posixpath
from typing import Any

from amphora_compute.errors import InvalidRequestError
from amphora_compute.models import BuildRequest

from .options import ZunOptions

#: Labels this project puts on every container it builds.
LABEL_MANAGED = "amphora-compute.managed"
LABEL_KEY = "amphora-compute.idempotency-key"
LABEL_FLAVOR = "amphora-compute.flavor"
LABEL_AZ = "amphora-compute.availability-zone"
LABEL_SERVER_GROUP = "amphora-compute.server-group"
MANAGED_VALUE = "true"
USER_DATA_ENV = "AMPHORA_USER_DATA"


def container_body(request: BuildRequest, options: ZunOptions) -> dict[str, Any]:
    """The keyword arguments for ``zunclient.containers.run`` (Zun's create body)."""
    if len(request.name) < 2:
        raise InvalidRequestError("Zun container names need at least 2 characters",
                                  field="name")
    if request.key_name:
        raise InvalidRequestError("Zun has no key pairs: pass the public keys in ssh_keys",
                                  field="key_name")
    body: dict[str, Any] = {"name": request.name, "hostname": request.name}
    body.update(_image(request, options))
    body.update(_resources(request, options))
    if options.command:
        body["command"] = list(options.command)
    if options.entrypoint:
        body["entrypoint"] = list(options.entrypoint)
    environment = dict(options.environment)
    mounts = _mounts(request, options)
    if request.user_data is not None:
        environment[USER_DATA_ENV] = options.user_data_path
    if environment:
        body["environment"] = environment
    if mounts:
        body["mounts"] = mounts
    body["labels"] = _labels(request, options)
    if request.security_groups:
        body["security_groups"] = list(request.security_groups)
    nets = [{"network": n} for n in request.network_ids] + \
        [{"port": p} for p in request.port_ids]
    if nets:
        body["nets"] = nets
    availability_zone = request.availability_zone or options.availability_zone
    if availability_zone:
        body["availability_zone"] = availability_zone
    hints = dict(options.hints)
    if request.server_group:
        hints["group"] = request.server_group
    if hints:
        body["hints"] = hints
    if options.restart_policy:
        body["restart_policy"] = {"Name": options.restart_policy,
                                  "MaximumRetryCount": str(options.restart_max_retries)}
    return body


def flavor_label(request: BuildRequest, options: ZunOptions) -> str | None:
    flavor = request.flavor
    if flavor is None and options.default_flavor:
        return options.default_flavor
    return str(flavor) if flavor is not None else None


def _image(request: BuildRequest, options: ZunOptions) -> dict[str, Any]:
    image = request.image
    driver = options.image_driver
    if image is None:
        if not options.default_image:
            raise InvalidRequestError("Zun needs an image (or set default_image in the "
                                      "backend options)", field="image")
        reference = options.default_image
    elif image.id is not None:
        reference = image.id
    else:
        assert image.tag is not None
        keys = ([f"{image.tag}@{image.owner}"] if image.owner else []) + \
            ([image.tag] if not image.owner else [])
        spec = next((options.images[k] for k in keys if k in options.images), None)
        if spec is None:
            raise InvalidRequestError(
                f"no image for tag {keys[0]!r} in the zun backend's `images` table (Zun has no "
                "image tags; map each tag to a Docker or Glance image there)", field="image_tag")
        reference = spec.image
        driver = spec.image_driver or driver
    if len(reference) < 2:
        raise InvalidRequestError("Zun image names need at least 2 characters", field="image")
    out: dict[str, Any] = {"image": reference}
    if driver:
        out["image_driver"] = driver
    return out


def _resources(request: BuildRequest, options: ZunOptions) -> dict[str, Any]:
    flavor = request.flavor
    out: dict[str, Any] = {}
    if flavor is None and options.default_flavor:
        spec = options.flavors[options.default_flavor]
        cpu, memory, disk = spec.cpu, spec.memory_mb, spec.disk_gb
    elif flavor is None:
        return out
    elif flavor.name is not None:
        named = options.flavors.get(flavor.name)
        if named is None:
            known = ", ".join(sorted(options.flavors)) or "none configured"
            raise InvalidRequestError(f"unknown Zun flavor {flavor.name!r} (known: {known}); "
                                      "define it in the backend's `flavors` table or pass "
                                      "vcpus/ram_mb/disk_gb", field="flavor")
        cpu, memory, disk = named.cpu, named.memory_mb, named.disk_gb
    else:
        cpu = float(flavor.vcpus) if flavor.vcpus else None
        memory, disk = flavor.ram_mb or None, flavor.disk_gb or None
    if cpu is not None:
        out["cpu"] = cpu
    if memory is not None:
        out["memory"] = memory
    if disk is not None:
        out["disk"] = disk
    return out


def _mounts(request: BuildRequest, options: ZunOptions) -> list[dict[str, Any]]:
    files: dict[str, bytes] = dict(request.config_drive_files)
    owners = {path: "config_drive_files" for path in files}

    def add(path: str, content: bytes, field: str) -> None:
        if path in files:
            raise InvalidRequestError(f"{path} is delivered twice (as {owners[path]} and "
                                      f"{field})", field=field)
        files[path] = content
        owners[path] = field

    if request.ssh_keys:
        add(options.ssh_keys_path, ("\n".join(request.ssh_keys) + "\n").encode(), "ssh_keys")
    if request.user_data is not None:
        if len(request.user_data) > options.user_data_max_bytes:
            raise InvalidRequestError(
                f"{len(request.user_data)} bytes; the zun backend takes at most "
                f"{options.user_data_max_bytes}", field="user_data")
        add(options.user_data_path, request.user_data, "user_data")
        if options.nocloud_meta_data:
            meta = f"instance-id: {request.name}\nlocal-hostname: {request.name}\n".encode()
            add(posixpath.join(posixpath.dirname(options.user_data_path), "meta-data"), meta,
                "user_data")
    return [{"type": "bind", "source": content, "destination": path}
            for path, content in files.items()]


def _labels(request: BuildRequest, options: ZunOptions) -> dict[str, str]:
    labels = dict(options.labels)
    labels.update(request.metadata)
    labels[LABEL_MANAGED] = MANAGED_VALUE
    if request.idempotency_key:
        labels[LABEL_KEY] = request.idempotency_key
    flavor = flavor_label(request, options)
    if flavor:
        labels[LABEL_FLAVOR] = flavor
    availability_zone = request.availability_zone or options.availability_zone
    if availability_zone:
        labels[LABEL_AZ] = availability_zone
    if request.server_group:
        labels[LABEL_SERVER_GROUP] = request.server_group
    return labels
