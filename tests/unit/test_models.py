"""BuildRequest validation, the Amphora record, AmphoraType spellings and the error mapping.

Every violation must raise ``InvalidRequestError`` (also a ``ValueError``) whose
``.field`` names the field, before anything reaches a backend: these tests build
requests only, so a pass here means the model itself refused the input.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from amphora_compute.enums import AmphoraStatus, AmphoraType
from amphora_compute.errors import (
    AmphoraBuildError,
    AmphoraComputeError,
    BackendUnavailableError,
    CircuitOpenError,
    ConfigError,
    DeleteFailed,
    InstanceNotFoundError,
    InvalidRequestError,
    NotSuspendedError,
    PluginError,
    from_http_status,
    http_status_of,
    is_caller_error,
)
from amphora_compute.models import (
    MAX_CONFIG_DRIVE_FILE_BYTES,
    MAX_CONFIG_DRIVE_FILES,
    Amphora,
    BuildRequest,
    Flavor,
    ImageRef,
)

SECRET = "pl4nted-s3cret-9e1f"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc3bXRlc3RrZXlmb3JhbXBob3JhY29tcHV0ZQ amp@test"


def _invalid(field: str, **kwargs: Any) -> InvalidRequestError:
    """Build a request that must be refused for ``field``; return the error."""
    kwargs.setdefault("name", "amp-1")
    with pytest.raises(InvalidRequestError) as info:
        BuildRequest(**kwargs)
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, AmphoraComputeError)
    assert err.field is not None and err.field.split("[")[0].split(".")[0] == field, \
        (err.field, str(err))
    assert str(err).startswith(f"{err.field}:")
    assert is_caller_error(err)
    return err


# -- name ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "amp-1", "A1", "0", "x" * 63, "a-b-c", "amp--1"])
def test_name_accepts_dns_labels(name: str) -> None:
    assert BuildRequest(name=name).name == name


@pytest.mark.parametrize("name", [
    "", "x" * 64, "-amp", "amp-", "amp_1", "amp.1", "amp 1", "amp/1",
    "a; reboot", "$(id)", "`id`", "a\nb", "amp\n", "amp\r", "amp\x00", "\namp",
    "ämp", "\u017fx", "\u212a",  # non-ASCII, incl. characters that case-fold onto a-z
], ids=repr)
def test_name_rejects_everything_else(name: str) -> None:
    _invalid("name", name=name)


@pytest.mark.parametrize("name", [None, 5, b"amp"])
def test_name_must_be_a_string(name: Any) -> None:
    _invalid("name", name=name)


# -- amphora type ---------------------------------------------------------------------


@pytest.mark.parametrize(("spelling", "expected"), [
    ("vm", AmphoraType.VM), ("VM", AmphoraType.VM), ("Vm", AmphoraType.VM),
    ("container", AmphoraType.CONTAINER), ("CONTAINER", AmphoraType.CONTAINER),
    ("baremetal", AmphoraType.BAREMETAL), ("BareMetal", AmphoraType.BAREMETAL),
    ("BAREMETAL", AmphoraType.BAREMETAL),
    ("hardware_lb", AmphoraType.HARDWARE_LB), ("HARDWARE_LB", AmphoraType.HARDWARE_LB),
    ("HWLoadBalancer", AmphoraType.HARDWARE_LB), ("hardware-lb", AmphoraType.HARDWARE_LB),
    (AmphoraType.CONTAINER, AmphoraType.CONTAINER),
])
def test_amphora_type_parse_spellings(spelling: Any, expected: AmphoraType) -> None:
    assert AmphoraType.parse(spelling) is expected


@pytest.mark.parametrize("bad", ["bad", "", "vms", "metal", "lb"])
def test_amphora_type_parse_rejects_unknown(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown amphora type"):
        AmphoraType.parse(bad)


def test_request_type_is_parsed_and_bad_type_names_the_field() -> None:
    assert BuildRequest(name="a", amphora_type="BareMetal").amphora_type is AmphoraType.BAREMETAL
    _invalid("amphora_type", amphora_type="mainframe")


# -- flavor -------------------------------------------------------------------------------


def test_flavor_parse_forms() -> None:
    assert Flavor.parse("m1.small") == Flavor(name="m1.small")
    assert Flavor.parse("vcpus=1,ram_mb=512") == Flavor(vcpus=1, ram_mb=512)
    assert Flavor.parse(" vcpus=2 , ram_mb=1024 , disk_gb=10 ") == \
        Flavor(vcpus=2, ram_mb=1024, disk_gb=10)
    assert Flavor.parse({"vcpus": 1, "ram_mb": 512}) == Flavor(vcpus=1, ram_mb=512)
    assert Flavor.parse({"name": "m1.tiny"}) == Flavor(name="m1.tiny")
    assert Flavor.parse(None) is None
    same = Flavor(name="x")
    assert Flavor.parse(same) is same
    assert str(Flavor(vcpus=1, ram_mb=512)) == "vcpus=1,ram_mb=512"
    assert Flavor.parse(str(Flavor(vcpus=1, ram_mb=512, disk_gb=3))) == \
        Flavor(vcpus=1, ram_mb=512, disk_gb=3)
    assert Flavor(vcpus=1).is_neutral and not Flavor(name="m1").is_neutral


def test_request_flavor_accepts_every_form() -> None:
    assert BuildRequest(name="a", flavor="m1.small").flavor == Flavor(name="m1.small")
    assert BuildRequest(name="a", flavor="vcpus=1,ram_mb=512").flavor == \
        Flavor(vcpus=1, ram_mb=512)
    assert BuildRequest(name="a", flavor={"ram_mb": 256}).flavor == Flavor(ram_mb=256)
    assert BuildRequest(name="a").flavor is None


@pytest.mark.parametrize("flavor", [
    "vcpus=1,ram=512",               # unknown key
    "cpus=1",
    "vcpus=one",                     # not an integer
    "vcpus=",
    "vcpus=-1",                      # negative
    {"vcpus": 1, "bogus": 2},        # unknown mapping key
    {"vcpus": "1"},                  # a string where an integer belongs
    {"vcpus": True},                 # bool is not an integer here
    {"ram_mb": 1.5},
    {},                              # nothing at all
    "",
    "m1.small; reboot",              # injection in a flavor name
    "$(id)",
    "m1\nsmall",
])
def test_bad_flavors_name_the_flavor_field(flavor: Any) -> None:
    _invalid("flavor", flavor=flavor)


# -- image ------------------------------------------------------------------------------------


def test_image_ref_id_or_tag() -> None:
    assert str(ImageRef(id="img-1")) == "img-1"
    assert str(ImageRef(tag="amphora")) == "tag:amphora"
    assert str(ImageRef(tag="amphora", owner="proj")) == "tag:amphora@proj"
    assert ImageRef(tag="amphora", owner="").owner is None  # Octavia's "any owner"
    assert BuildRequest(name="a", image=ImageRef(tag="amphora")).image == ImageRef(tag="amphora")


@pytest.mark.parametrize(("kwargs", "field"), [
    ({}, "image"),
    ({"id": "img", "tag": "amphora"}, "image"),
    ({"id": "img", "owner": "proj"}, "image_owner"),
    ({"id": ""}, "image"),
    ({"id": "img; reboot"}, "image"),
    ({"tag": "$(id)"}, "image_tag"),
    ({"tag": "amphora", "owner": "a b"}, "image_owner"),
])
def test_image_ref_violations(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        ImageRef(**kwargs)
    assert info.value.field == field


def test_request_image_must_be_an_image_ref() -> None:
    _invalid("image", image="img-1")


def test_from_spec_args_maps_image_forms() -> None:
    by_id = BuildRequest.from_spec_args("a", image_id="img", image_tag="ignored")
    assert by_id.image == ImageRef(id="img")
    by_tag = BuildRequest.from_spec_args("a", image_tag="amp", image_owner="")
    assert by_tag.image == ImageRef(tag="amp") and by_tag.image.owner is None
    by_owner = BuildRequest.from_spec_args("a", image_tag="amp", image_owner="proj")
    assert by_owner.image == ImageRef(tag="amp", owner="proj")
    spec = BuildRequest.from_spec_args("a", amphora_type="HWLoadBalancer",
                                       amphora_flavor="vcpus=1", keys=[KEY],
                                       sec_groups=["sg-1"], network_ids=["net-1"],
                                       config_drive_files={"/etc/a": "x"}, user_data="ud")
    assert spec.amphora_type is AmphoraType.HARDWARE_LB
    assert spec.flavor == Flavor(vcpus=1)
    assert (spec.ssh_keys, spec.security_groups, spec.network_ids) == \
        ((KEY,), ("sg-1",), ("net-1",))
    assert spec.config_drive_files == {"/etc/a": b"x"} and spec.user_data == b"ud"


# -- ssh keys and identifiers ----------------------------------------------------------------


def test_ssh_keys_are_kept_stripped() -> None:
    request = BuildRequest(name="a", ssh_keys=[KEY + "\n", "ecdsa-sha2-nistp256 AAAA x"])
    assert request.ssh_keys == (KEY, "ecdsa-sha2-nistp256 AAAA x")


@pytest.mark.parametrize("keys", [
    ["not a key"],
    [KEY + "\n" + KEY],               # two keys in one item
    [KEY + "\nreboot"],
    ["-----BEGIN OPENSSH PRIVATE KEY-----"],
    [5],
    ["ssh-rsa " + "A" * 20000],       # absurdly long
], ids=["garbage", "two-lines", "newline-injection", "private-key", "int", "too-long"])
def test_bad_ssh_keys(keys: list[Any]) -> None:
    _invalid("ssh_keys", ssh_keys=keys)


@pytest.mark.parametrize("field", ["key_name", "availability_zone", "server_group",
                                   "idempotency_key"])
@pytest.mark.parametrize("value", ["a; reboot", "$(id)", "a\nb", "trailing\n", "a b", "",
                                   "-leading-dash", "x" * 256])
def test_single_identifiers_reject_injection(field: str, value: str) -> None:
    _invalid(field, **{field: value})


@pytest.mark.parametrize("field", ["security_groups", "network_ids", "port_ids"])
@pytest.mark.parametrize("value", [["a; reboot"], ["$(id)"], ["ok", "a\nb"], ["sg\n"], [5]])
def test_identifier_lists_reject_injection(field: str, value: list[Any]) -> None:
    _invalid(field, **{field: value})


@pytest.mark.parametrize("field", ["security_groups", "network_ids", "port_ids"])
def test_identifier_lists_must_not_be_a_bare_string(field: str) -> None:
    _invalid(field, **{field: "sg-1"})


def test_identifiers_that_backends_use_are_accepted() -> None:
    request = BuildRequest(
        name="a", key_name="amp_key", availability_zone="nova:host-1",
        server_group="0b9c6b1e-2a4f-4e7a-9f3e-6a1d2c3b4a5f",
        security_groups=["sg-1", "default"], network_ids=("net/1",), port_ids=["p.1"],
        idempotency_key="lb-1@octavia+retry")
    assert request.security_groups == ("sg-1", "default")
    assert request.network_ids == ("net/1",)
    assert request.port_ids == ("p.1",)


# -- config-drive files ------------------------------------------------------------------


def test_config_drive_files_accept_str_bytes_and_file_likes(tmp_path: Path) -> None:
    text_file = tmp_path / "text.cfg"
    text_file.write_text("text-file\n")
    binary_file = tmp_path / "blob.bin"
    binary_file.write_bytes(b"\x00\xffbinary")
    with open(text_file) as text, open(binary_file, "rb") as binary:
        request = BuildRequest(name="a", config_drive_files={
            "/etc/a.conf": "plain str",
            "/etc/b.bin": b"\x01\x02",
            "/etc/c.txt": io.StringIO("string io"),
            "/etc/d.bin": io.BytesIO(b"bytes io"),
            "/etc/e/text.cfg": text,
        })
        assert request.config_drive_files == {
            "/etc/a.conf": b"plain str", "/etc/b.bin": b"\x01\x02",
            "/etc/c.txt": b"string io", "/etc/d.bin": b"bytes io",
            "/etc/e/text.cfg": b"text-file\n"}
        other = BuildRequest(name="a", config_drive_files={"/var/lib/blob": binary})
        assert other.config_drive_files == {"/var/lib/blob": b"\x00\xffbinary"}
    assert all(isinstance(v, bytes) for v in request.config_drive_files.values())


def test_config_drive_limits_exactly_at_the_edge() -> None:
    assert MAX_CONFIG_DRIVE_FILES == 5 and MAX_CONFIG_DRIVE_FILE_BYTES == 10240
    five = {f"/etc/f{i}": b"x" * 10240 for i in range(5)}
    assert len(BuildRequest(name="a", config_drive_files=five).config_drive_files) == 5
    # 10240 characters of multi-byte text are more than 10 KiB once encoded
    _invalid("config_drive_files", config_drive_files={"/etc/u": "é" * 5121})
    assert BuildRequest(name="a", config_drive_files={"/etc/u": "é" * 5120})


@pytest.mark.parametrize("files", [
    {f"/etc/f{i}": b"x" for i in range(6)},
    {"/etc/big": b"x" * 10241},
    {"/etc/big": "x" * 10241},
    {"/etc/big": io.BytesIO(b"x" * 10241)},
    {"/etc/big": io.StringIO("x" * 10241)},
    {"relative/path": b"x"},
    {"etc": b"x"},
    {"": b"x"},
    {"/": b"x"},
    {"/etc/../shadow": b"x"},
    {"/..": b"x"},
    {"/../etc/shadow": b"x"},
    {"/etc/..": b"x"},
    {"/etc/x; reboot": b"x"},
    {"/etc/$(id)": b"x"},
    {"/etc/x\n": b"x"},
    {"/etc/a b": b"x"},
    {b"/etc/x": b"x"},
    {"/etc/x": 5},
    {"/etc/x": None},
    {"/etc/x": ["not", "content"]},
], ids=["six-files", "10241-bytes", "10241-str", "10241-bytesio", "10241-stringio",
        "relative", "bare-name", "empty-path", "root", "dotdot-middle", "dotdot-root",
        "dotdot-first", "dotdot-end", "semicolon", "subshell", "newline", "space",
        "bytes-path", "int", "none", "list"])
def test_config_drive_violations(files: dict[Any, Any]) -> None:
    _invalid("config_drive_files", config_drive_files=files)


def test_config_drive_files_must_be_a_mapping() -> None:
    _invalid("config_drive_files", config_drive_files=[("/etc/a", b"x")])


def test_dotdot_inside_a_file_name_is_not_traversal() -> None:
    request = BuildRequest(name="a", config_drive_files={"/etc/a..b": b"x", "/etc/..c": b"y"})
    assert set(request.config_drive_files) == {"/etc/a..b", "/etc/..c"}


# -- user data and metadata -----------------------------------------------------------------


def test_user_data_accepts_str_bytes_and_file_likes(tmp_path: Path) -> None:
    assert BuildRequest(name="a", user_data="#cloud-config\n").user_data == b"#cloud-config\n"
    assert BuildRequest(name="a", user_data=b"\x00\x01").user_data == b"\x00\x01"
    assert BuildRequest(name="a", user_data=io.StringIO("sio")).user_data == b"sio"
    assert BuildRequest(name="a", user_data=io.BytesIO(b"bio")).user_data == b"bio"
    path = tmp_path / "ud"
    path.write_bytes(b"#!/bin/sh\n")
    with open(path, "rb") as binary:
        assert BuildRequest(name="a", user_data=binary).user_data == b"#!/bin/sh\n"
    with open(path) as text:
        assert BuildRequest(name="a", user_data=text).user_data == b"#!/bin/sh\n"
    assert BuildRequest(name="a").user_data is None


@pytest.mark.parametrize("user_data", [5, ["x"], {"a": "b"}, object()])
def test_bad_user_data(user_data: Any) -> None:
    _invalid("user_data", user_data=user_data)


def test_metadata_accepts_short_strings() -> None:
    request = BuildRequest(name="a", metadata={"lb_id": "x" * 255, "role": "MASTER"})
    assert request.metadata["role"] == "MASTER"


@pytest.mark.parametrize("metadata", [
    {"k": 1}, {"k": "x" * 256}, {"bad key": "v"}, {"k;reboot": "v"}, {"k\n": "v"},
    {5: "v"}, "k=v", 5, ["k", "v"],
], ids=repr)
def test_bad_metadata(metadata: Any) -> None:
    _invalid("metadata", metadata=metadata)


# -- secrets ------------------------------------------------------------------------------


def test_secrets_are_not_in_repr_or_str() -> None:
    request = BuildRequest(
        name="a", ssh_keys=[f"ssh-ed25519 AAAA{SECRET}"], user_data=f"pw={SECRET}",
        config_drive_files={"/etc/secret.pem": SECRET, "/etc/other": io.BytesIO(
            SECRET.encode())})
    for text in (repr(request), str(request), f"{request}", f"{request!r}"):
        assert SECRET not in text
        assert "name='a'" in text
    assert SECRET.encode() in request.user_data  # kept, just not shown


# -- the Amphora record ------------------------------------------------------------------


def test_amphora_to_dict_keys_are_stable() -> None:
    created = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    amphora = Amphora(id="id-1", name="amp-1", amphora_type=AmphoraType.BAREMETAL,
                      backend="ironic", status=AmphoraStatus.ACTIVE, raw_status="active",
                      addresses=("192.0.2.10", "192.0.2.11"), flavor="bm", image="img",
                      created_at=created, availability_zone="az1", idempotency_key="k",
                      extra={"node": "n-1"})
    data = amphora.to_dict()
    assert list(data) == ["id", "name", "type", "backend", "status", "raw_status", "fault",
                          "addresses", "flavor", "image", "availability_zone", "created_at"]
    assert data["type"] == "baremetal" and data["status"] == "ACTIVE"
    assert data["addresses"] == ["192.0.2.10", "192.0.2.11"]
    assert data["created_at"] == "2024-05-01T12:00:00+00:00"
    assert amphora.management_address == "192.0.2.10"
    gone = Amphora.deleted("id-2", AmphoraType.VM, "nova")
    assert list(gone.to_dict()) == list(data)
    assert gone.status is AmphoraStatus.DELETED and gone.management_address is None
    assert gone.to_dict()["created_at"] is None and gone.to_dict()["addresses"] == []


# -- errors --------------------------------------------------------------------------------


def test_from_http_status_mapping() -> None:
    nf = from_http_status(404, "gone", operation="status", backend="nova", amphora_id="i")
    assert type(nf) is InstanceNotFoundError and nf.caller_error and is_caller_error(nf)
    assert nf.backend == "nova" and nf.amphora_id == "i"

    for status in (400, 409):
        err = from_http_status(status, "quota", operation="build", backend="nova")
        assert type(err) is AmphoraBuildError
        assert err.caller_error is True and is_caller_error(err)
        assert err.fault == "quota" and str(status) in str(err)

    server = from_http_status(500, "boom", operation="build", backend="nova")
    assert type(server) is AmphoraBuildError
    assert server.caller_error is False and not is_caller_error(server)

    delete_500 = from_http_status(503, "x", operation="delete", backend="zun")
    assert type(delete_500) is DeleteFailed and not is_caller_error(delete_500)
    delete_409 = from_http_status(409, "x", operation="delete", backend="zun")
    assert type(delete_409) is DeleteFailed and is_caller_error(delete_409)

    other_500 = from_http_status(500, "x", operation="status", backend="zun")
    assert type(other_500) is BackendUnavailableError and not is_caller_error(other_500)
    other_403 = from_http_status(403, "x", operation="list", backend="zun")
    assert type(other_403) is AmphoraComputeError and is_caller_error(other_403)

    lost = from_http_status(None, "connection refused", operation="build", backend="ironic")
    assert type(lost) is BackendUnavailableError and not is_caller_error(lost)


def test_caller_error_classification() -> None:
    assert is_caller_error(InstanceNotFoundError("x"))
    assert is_caller_error(NotSuspendedError("x"))
    assert is_caller_error(InvalidRequestError("x", field="name"))
    assert is_caller_error(NotImplementedError("x"))
    assert is_caller_error(CircuitOpenError("x", breaker="backend:x", retry_at=None))
    assert is_caller_error(ConfigError("x")) and is_caller_error(PluginError("x"))
    assert not is_caller_error(AmphoraBuildError("x"))
    assert not is_caller_error(DeleteFailed("x"))
    assert not is_caller_error(BackendUnavailableError("x"))
    assert not is_caller_error(AmphoraComputeError("x"))
    assert not is_caller_error(RuntimeError("x"))
    assert is_caller_error(AmphoraBuildError("x", caller_error=True))
    assert not is_caller_error(InstanceNotFoundError("x", caller_error=False))


def test_http_status_of_reads_every_library_spelling() -> None:
    class Sdk(Exception):
        status_code = 409

    class Keystone(Exception):
        http_status = 503

    class Zun(Exception):
        code = 404

    class WithResponse(Exception):
        class response:  # noqa: N801 - shaped like requests' response
            status_code = 502

    assert http_status_of(Sdk()) == 409
    assert http_status_of(Keystone()) == 503
    assert http_status_of(Zun()) == 404
    assert http_status_of(WithResponse()) == 502
    assert http_status_of(ConnectionError("refused")) is None
