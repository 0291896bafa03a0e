"""The data the contract speaks: a validated build request and an amphora record.

Validation happens here, in ``BuildRequest.__post_init__``, so that a bad
request raises ``InvalidRequestError`` naming the field before any backend is
touched.  Secrets (user data, config-drive contents) are kept out of ``repr``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from .enums import AmphoraStatus, AmphoraType
from .errors import InvalidRequestError

#: The spec's limits on config-drive files (Nova's default injected-file quotas).
MAX_CONFIG_DRIVE_FILES = 5
MAX_CONFIG_DRIVE_FILE_BYTES = 10 * 1024
# The patterns end with \Z, not $: "$" also matches before a trailing newline, which
# would let "name\n" through.  No IGNORECASE: with it, [a-z] also matches non-ASCII
# letters that case-fold onto ASCII (U+017F, U+212A).
#: A DNS label: what every backend (Nova, Zun, Ironic, device CLIs) accepts as a name.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
#: Identifiers that may reach a backend: ids, flavor names, tags, keys, networks.
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,254}\Z")
#: Absolute POSIX paths for config-drive files, without traversal (no ".." segment,
#: the first one included) or odd characters.
PATH_PATTERN = re.compile(r"^/(?!(?:.*/)?\.\.(?:/|\Z))[A-Za-z0-9._/@+-]{1,254}\Z")

FileContent = str | bytes | IO[str] | IO[bytes]


def _read_content(value: object, field_name: str) -> bytes:
    """str, bytes or a file-like object -> bytes (the spec allows all three)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    read = getattr(value, "read", None)
    if callable(read):
        data = read()
        if isinstance(data, str):
            return data.encode()
        if isinstance(data, bytes):
            return data
    raise InvalidRequestError("must be str, bytes or a file-like object", field=field_name)


def _check_token(value: str | None, field_name: str) -> None:
    if value is not None and (not isinstance(value, str) or not TOKEN_PATTERN.match(value)):
        raise InvalidRequestError(
            f"{value!r} is not a valid identifier (letters, digits and ._:@/+-, "
            "starting with a letter or digit, at most 255 characters)", field=field_name)


def _check_tokens(values: Sequence[str], field_name: str) -> tuple[str, ...]:
    if isinstance(values, str):
        raise InvalidRequestError("must be a list, not a single string", field=field_name)
    out = tuple(values)
    for item in out:
        if not isinstance(item, str):
            raise InvalidRequestError(f"{item!r} is not a string", field=field_name)
        _check_token(item, field_name)
    return out


@dataclass(frozen=True, slots=True)
class Flavor:
    """A backend flavor name, or a neutral size the backend maps onto its own flavors."""

    name: str | None = None
    vcpus: int | None = None
    ram_mb: int | None = None
    disk_gb: int | None = None

    def __post_init__(self) -> None:
        _check_token(self.name, "flavor")
        for attr in ("vcpus", "ram_mb", "disk_gb"):
            value = getattr(self, attr)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or value < 0):
                raise InvalidRequestError(f"must be a non-negative integer, got {value!r}",
                                          field=f"flavor.{attr}")
        if self.name is None and self.vcpus is None and self.ram_mb is None \
                and self.disk_gb is None:
            raise InvalidRequestError("give a flavor name or vcpus / ram_mb / disk_gb",
                                      field="flavor")

    @property
    def is_neutral(self) -> bool:
        return self.name is None

    @classmethod
    def parse(cls, value: str | Mapping[str, Any] | Flavor | None) -> Flavor | None:
        """``"m1.small"``, ``{"vcpus": 1, "ram_mb": 1024}`` or ``"vcpus=1,ram_mb=1024"``."""
        if value is None or isinstance(value, Flavor):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"name", "vcpus", "ram_mb", "disk_gb"}
            if unknown:
                raise InvalidRequestError(f"unknown keys {sorted(unknown)}", field="flavor")
            return cls(**dict(value))
        text = str(value).strip()
        if "=" in text:
            parts: dict[str, Any] = {}
            for chunk in text.split(","):
                key, _, raw = chunk.partition("=")
                key = key.strip()
                if key not in ("vcpus", "ram_mb", "disk_gb"):
                    raise InvalidRequestError(f"unknown key {key!r}", field="flavor")
                try:
                    parts[key] = int(raw)
                except ValueError:
                    raise InvalidRequestError(f"{key} must be an integer", field="flavor") \
                        from None
            return cls(**parts)
        return cls(name=text)

    def __str__(self) -> str:
        if self.name:
            return self.name
        parts = [f"{k}={getattr(self, k)}" for k in ("vcpus", "ram_mb", "disk_gb")
                 if getattr(self, k) is not None]
        return ",".join(parts)


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image id, or a tag (with an optional owner): the newest image carrying it wins."""

    id: str | None = None
    tag: str | None = None
    owner: str | None = None

    def __post_init__(self) -> None:
        if (self.id is None) == (self.tag is None):
            raise InvalidRequestError("give exactly one of an image id or an image tag",
                                      field="image")
        _check_token(self.id, "image")
        _check_token(self.tag, "image_tag")
        if self.owner == "":
            object.__setattr__(self, "owner", None)  # Octavia passes '' for "any owner"
        _check_token(self.owner, "image_owner")
        if self.owner is not None and self.tag is None:
            raise InvalidRequestError("an owner only narrows an image tag", field="image_owner")

    def __str__(self) -> str:
        if self.id:
            return self.id
        return f"tag:{self.tag}" + (f"@{self.owner}" if self.owner else "")


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """Everything the spec's ``build()`` takes, validated before any backend call.

    ``config_drive_files`` and ``user_data`` accept str, bytes or file-like
    values (as the spec says); they are read once here and kept as bytes, out
    of ``repr`` so they cannot reach a log line by accident.
    ``idempotency_key`` lets a controller retry a build after a lost answer
    without getting a second amphora.
    """

    name: str
    amphora_type: AmphoraType = AmphoraType.VM
    flavor: Flavor | None = None
    image: ImageRef | None = None
    ssh_keys: tuple[str, ...] = field(default=(), repr=False)
    key_name: str | None = None
    security_groups: tuple[str, ...] = ()
    network_ids: tuple[str, ...] = ()
    port_ids: tuple[str, ...] = ()
    availability_zone: str | None = None
    server_group: str | None = None
    config_drive_files: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    user_data: bytes | None = field(default=None, repr=False)
    idempotency_key: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise InvalidRequestError(
                f"{self.name!r} is not a valid name: 1 to 63 letters, digits or '-', "
                "starting and ending with a letter or digit", field="name")
        try:
            object.__setattr__(self, "amphora_type", AmphoraType.parse(self.amphora_type))
        except ValueError as exc:
            raise InvalidRequestError(str(exc), field="amphora_type") from None
        object.__setattr__(self, "flavor", Flavor.parse(self.flavor))
        if self.image is not None and not isinstance(self.image, ImageRef):
            raise InvalidRequestError("must be an ImageRef", field="image")
        keys = tuple(self.ssh_keys)
        for key in keys:
            if not isinstance(key, str) or not key.startswith(("ssh-", "ecdsa-", "sk-")) \
                    or "\n" in key.strip() or len(key) > 16384:
                raise InvalidRequestError("each key must be one OpenSSH public key line",
                                          field="ssh_keys")
        object.__setattr__(self, "ssh_keys", tuple(k.strip() for k in keys))
        _check_token(self.key_name, "key_name")
        object.__setattr__(self, "security_groups",
                           _check_tokens(self.security_groups, "security_groups"))
        object.__setattr__(self, "network_ids", _check_tokens(self.network_ids, "network_ids"))
        object.__setattr__(self, "port_ids", _check_tokens(self.port_ids, "port_ids"))
        _check_token(self.availability_zone, "availability_zone")
        _check_token(self.server_group, "server_group")
        _check_token(self.idempotency_key, "idempotency_key")
        object.__setattr__(self, "config_drive_files", self._read_files(self.config_drive_files))
        if self.user_data is not None:
            object.__setattr__(self, "user_data", _read_content(self.user_data, "user_data"))
        if not isinstance(self.metadata, Mapping):
            raise InvalidRequestError("must be a mapping of str -> str", field="metadata")
        for key, value in dict(self.metadata).items():
            _check_token(key, "metadata")
            if not isinstance(value, str) or len(value) > 255:
                raise InvalidRequestError(f"value of {key!r} must be a string of at most 255",
                                          field="metadata")

    @staticmethod
    def _read_files(files: object) -> dict[str, bytes]:
        if files is None:
            return {}
        if not isinstance(files, Mapping):
            raise InvalidRequestError("must be a mapping of path -> content",
                                      field="config_drive_files")
        if len(files) > MAX_CONFIG_DRIVE_FILES:
            raise InvalidRequestError(
                f"at most {MAX_CONFIG_DRIVE_FILES} files are allowed, got {len(files)}",
                field="config_drive_files")
        out: dict[str, bytes] = {}
        for path, value in files.items():
            if not isinstance(path, str) or not PATH_PATTERN.match(path):
                raise InvalidRequestError(f"{path!r} is not an absolute, plain file path",
                                          field="config_drive_files")
            data = _read_content(value, f"config_drive_files[{path}]")
            if len(data) > MAX_CONFIG_DRIVE_FILE_BYTES:
                raise InvalidRequestError(
                    f"{path} is {len(data)} bytes; each file must be at most "
                    f"{MAX_CONFIG_DRIVE_FILE_BYTES} bytes (10 KiB)",
                    field="config_drive_files")
            out[path] = data
        return out

    @classmethod
    def from_spec_args(cls, name: str, amphora_type: AmphoraType | str = AmphoraType.VM,
                       amphora_flavor: str | Mapping[str, Any] | Flavor | None = None,
                       image_id: str | None = None, image_tag: str | None = None,
                       image_owner: str | None = None, keys: Sequence[str] | None = None,
                       sec_groups: Sequence[str] | None = None,
                       network_ids: Sequence[str] | None = None,
                       config_drive_files: Mapping[str, FileContent] | None = None,
                       user_data: FileContent | None = None,
                       **extra: Any) -> BuildRequest:
        """Build a request from the spec's ``build()`` keyword arguments."""
        image = None
        if image_id or image_tag:
            image = ImageRef(id=image_id or None, tag=None if image_id else image_tag,
                             owner=None if image_id else (image_owner or None))
        return cls(name=name, amphora_type=AmphoraType.parse(amphora_type),
                   flavor=Flavor.parse(amphora_flavor), image=image,
                   ssh_keys=tuple(keys or ()), security_groups=tuple(sec_groups or ()),
                   network_ids=tuple(network_ids or ()),
                   config_drive_files=dict(config_drive_files or {}),  # type: ignore[arg-type]
                   user_data=user_data,  # type: ignore[arg-type]
                   **extra)


@dataclass(frozen=True, slots=True)
class Amphora:
    """One amphora as a backend reports it, with the status normalized."""

    id: str
    name: str | None
    amphora_type: AmphoraType
    backend: str
    status: AmphoraStatus
    raw_status: str | None = None
    fault: str | None = None
    addresses: tuple[str, ...] = ()
    flavor: str | None = None
    image: str | None = None
    created_at: datetime | None = None
    availability_zone: str | None = None
    idempotency_key: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def management_address(self) -> str | None:
        return self.addresses[0] if self.addresses else None

    @classmethod
    def deleted(cls, amphora_id: str, amphora_type: AmphoraType, backend: str) -> Amphora:
        """The record ``statuses`` reports for an amphora the backend no longer has."""
        return cls(id=amphora_id, name=None, amphora_type=amphora_type, backend=backend,
                   status=AmphoraStatus.DELETED, raw_status=None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with stable keys (the CLI's ``--format json``)."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.amphora_type.value,
            "backend": self.backend,
            "status": self.status.value,
            "raw_status": self.raw_status,
            "fault": self.fault,
            "addresses": list(self.addresses),
            "flavor": self.flavor,
            "image": self.image,
            "availability_zone": self.availability_zone,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


def as_file(data: bytes) -> IO[bytes]:
    """A file-like view of bytes (for libraries that want one)."""
    return io.BytesIO(data)
