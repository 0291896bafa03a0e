"""The Zun driver's options and request mapping: pure code, no server, no client calls."""

from __future__ import annotations

import subprocess
import sys

import pytest

from amphora_compute.drivers.zun.mapping import (
    LABEL_FLAVOR,
    LABEL_KEY,
    LABEL_MANAGED,
    container_body,
)
from amphora_compute.drivers.zun.options import ZunOptions
from amphora_compute.enums import AmphoraStatus, AmphoraType
from amphora_compute.errors import ConfigError, InvalidRequestError
from amphora_compute.models import BuildRequest, Flavor, ImageRef

ENDPOINT = "http://127.0.0.1:9/v1"


def opts(**extra: object) -> ZunOptions:
    return ZunOptions.parse({"endpoint": ENDPOINT, **extra})


def req(**overrides: object) -> BuildRequest:
    overrides.setdefault("image", ImageRef(id="cirros"))
    return BuildRequest(name="amp-1", amphora_type=AmphoraType.CONTAINER, **overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize("options, key", [
    ({"endpoint": ENDPOINT, "bogus": 1}, "bogus"),
    ({}, "cloud"),
    ({"endpoint": "ftp://x"}, "endpoint"),
    ({"endpoint": ENDPOINT, "api_version": "1.41"}, "api_version"),
    ({"endpoint": ENDPOINT, "api_version": "1.22"}, "api_version"),
    ({"endpoint": ENDPOINT, "api_version": "one"}, "api_version"),
    ({"endpoint": ENDPOINT, "auth_type": "password"}, "auth_type"),
    ({"endpoint": ENDPOINT, "auth_type": "token"}, "token_env"),
    ({"endpoint": ENDPOINT, "restart_policy": "always", "restart_max_retries": 3},
     "restart_max_retries"),
    ({"endpoint": ENDPOINT, "restart_policy": "sometimes"}, "restart_policy"),
    ({"endpoint": ENDPOINT, "default_flavor": "x"}, "default_flavor"),
    ({"endpoint": ENDPOINT, "flavors": {"a": {"vcpus": 0}}}, "flavors.a.vcpus"),
    ({"endpoint": ENDPOINT, "flavors": {"a": {"ram": 5}}}, "flavors.a"),
    ({"endpoint": ENDPOINT, "images": {"t": {"image": "x", "image_driver": "rkt"}}},
     "images.t.image_driver"),
    ({"endpoint": ENDPOINT, "timeout": 0}, "timeout"),
    ({"endpoint": ENDPOINT, "page_size": 0}, "page_size"),
    ({"endpoint": ENDPOINT, "ssh_keys_path": "relative"}, "ssh_keys_path"),
    ({"endpoint": ENDPOINT, "api_version": "1.39", "entrypoint": ["sh"]}, "entrypoint"),
])
def test_bad_options_name_the_key(options: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        ZunOptions.parse(options)
    assert key in str(info.value)


def test_the_driver_does_no_io_and_the_plugin_imports_no_client() -> None:
    from amphora_compute.drivers.zun.driver import ZunDriver

    driver = ZunDriver({"endpoint": ENDPOINT})  # port 9: any connection attempt would fail
    assert not driver._client.made
    assert driver.map_status("Paused") is AmphoraStatus.SUSPENDED
    assert driver.map_status("Created") is AmphoraStatus.BUILDING
    assert driver.map_status("Deleting") is AmphoraStatus.DELETED
    driver.close()
    code = ("import sys, amphora_compute.drivers.zun as z; "
            "specs = z.amphora_compute_drivers(); "
            "assert specs[0].backend == 'zun' and specs[0].amphora_type.value == 'container'; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('zunclient', 'keystoneauth1', 'openstack')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_neutral_and_named_flavors() -> None:
    o = opts(flavors={"amp.small": {"vcpus": 0.5, "ram_mb": 256, "disk_gb": 2}})
    body = container_body(req(flavor=Flavor(vcpus=2, ram_mb=1024, disk_gb=5)), o)
    assert (body["cpu"], body["memory"], body["disk"]) == (2.0, 1024, 5)
    body = container_body(req(flavor="amp.small"), o)
    assert (body["cpu"], body["memory"], body["disk"]) == (0.5, 256, 2)
    assert body["labels"][LABEL_FLAVOR] == "amp.small"
    body = container_body(req(), opts(flavors={"d": {"ram_mb": 128}}, default_flavor="d"))
    assert body["memory"] == 128 and "cpu" not in body
    with pytest.raises(InvalidRequestError) as info:
        container_body(req(flavor="m1.tiny"), o)
    assert info.value.field == "flavor"


def test_image_ids_tags_and_owners() -> None:
    o = opts(images={"amphora": "octavia/amphora:latest",
                     "amphora@octavia": {"image": "8f1e0a6c", "image_driver": "glance"}},
             image_driver="docker")
    assert container_body(req(image=ImageRef(id="nginx:1.25")), o)["image"] == "nginx:1.25"
    body = container_body(req(image=ImageRef(tag="amphora")), o)
    assert (body["image"], body["image_driver"]) == ("octavia/amphora:latest", "docker")
    body = container_body(req(image=ImageRef(tag="amphora", owner="octavia")), o)
    assert (body["image"], body["image_driver"]) == ("8f1e0a6c", "glance")
    with pytest.raises(InvalidRequestError) as info:
        container_body(req(image=ImageRef(tag="amphora", owner="mallory")), o)
    assert info.value.field == "image_tag"
    with pytest.raises(InvalidRequestError):
        container_body(req(image=None), o)
    assert container_body(req(image=None), opts(default_image="cirros"))["image"] == "cirros"


def test_labels_mark_the_container_and_keep_the_key() -> None:
    body = container_body(req(idempotency_key="k-1",
                              metadata={"lb": "lb-1", LABEL_MANAGED: "false"}),
                          opts(labels={"owner": "octavia"}))
    labels = body["labels"]
    assert labels[LABEL_MANAGED] == "true"  # a caller cannot unmark it
    assert labels[LABEL_KEY] == "k-1" and labels["lb"] == "lb-1" and labels["owner"] == "octavia"


def test_files_keys_and_user_data_become_bind_mounts() -> None:
    body = container_body(req(config_drive_files={"/etc/a.conf": b"a"},
                              ssh_keys=("ssh-ed25519 AAAA one", "ssh-rsa BBBB two"),
                              user_data=b"#cloud-config\n"), opts())
    mounts = {m["destination"]: m for m in body["mounts"]}
    assert all(m["type"] == "bind" for m in mounts.values())
    assert mounts["/etc/a.conf"]["source"] == b"a"
    assert mounts["/root/.ssh/authorized_keys"]["source"] == \
        b"ssh-ed25519 AAAA one\nssh-rsa BBBB two\n"
    assert mounts["/var/lib/cloud/seed/nocloud/user-data"]["source"] == b"#cloud-config\n"
    assert b"instance-id: amp-1" in mounts["/var/lib/cloud/seed/nocloud/meta-data"]["source"]
    assert body["environment"]["AMPHORA_USER_DATA"] == "/var/lib/cloud/seed/nocloud/user-data"
    body = container_body(req(user_data=b"x"), opts(nocloud_meta_data=False))
    assert [m["destination"] for m in body["mounts"]] == ["/var/lib/cloud/seed/nocloud/user-data"]
    assert "mounts" not in container_body(req(), opts())


@pytest.mark.parametrize("overrides, field", [
    ({"name": "a"}, "name"),
    ({"key_name": "kp"}, "key_name"),
    ({"user_data": b"x" * 70000}, "user_data"),
    ({"config_drive_files": {"/var/lib/cloud/seed/nocloud/user-data": b"x"},
      "user_data": b"y"}, "user_data"),
    ({"image": ImageRef(id="c")}, "image"),
])
def test_requests_zun_cannot_take(overrides: dict[str, object], field: str) -> None:
    name = overrides.pop("name", "amp-1")
    overrides.setdefault("image", ImageRef(id="cirros"))
    request = BuildRequest(name=name, amphora_type=AmphoraType.CONTAINER, **overrides)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError) as info:
        container_body(request, opts())
    assert info.value.field == field


def test_networks_hints_zone_and_restart_policy() -> None:
    body = container_body(req(network_ids=("n1",), port_ids=("p1",), server_group="g1",
                              security_groups=("sg",)),
                          opts(availability_zone="az9", hints={"label:rack": "r1"},
                               restart_policy="on-failure", restart_max_retries=3,
                               command=["haproxy", "-f", "/etc/haproxy.cfg"]))
    assert body["nets"] == [{"network": "n1"}, {"port": "p1"}]
    assert body["hints"] == {"label:rack": "r1", "group": "g1"}
    assert body["availability_zone"] == "az9" and body["security_groups"] == ["sg"]
    assert body["restart_policy"] == {"Name": "on-failure", "MaximumRetryCount": "3"}
    assert body["command"] == ["haproxy", "-f", "/etc/haproxy.cfg"]
