"""A server that speaks OpenStack Zun's v1 container API on a loopback port (tests only).

The real Zun cannot run here (it needs a Docker engine with Kuryr networking,
see RECIPES.md), so the Zun driver's tests drive the unmodified
python-zunclient against this server.  Everything the driver touches behaves
as Zun does; the shapes were taken from Zun's and zunclient's own source
(openstack/zun at 023280e4, openstack/python-zunclient 5.5):

* zun/api/controllers/root.py, v1/__init__.py, versions.py, base.py:
  ``GET /`` and ``GET /v1`` documents; the ``OpenStack-API-Version:
  container X.Y`` header (absent means 1.1, ``latest`` means 1.40; out of
  [1.1, 1.40] or malformed -> 406); the Minimum/Maximum/Version/Vary answer
  headers on every /v1 route.
* zun/api/controllers/v1/containers.py: the routes; ``run`` and ``stop`` /
  ``force`` query parameters; list with marker / limit / sort_key / sort_dir,
  the allowed filters (name, image, project_id, user_id, memory, host,
  task_state, status, auto_remove) and "Unknown parameters" for anything
  else (there is NO label filter in Zun); version checks per field
  (mounts 1.11, stop 1.12, force 1.7, ...); ``privileged`` is 403 (policy
  ``deny_everybody``); force delete is admin-only; restart_policy checks.
* zun/api/controllers/v1/schemas/containers.py and parameter_types.py: the
  create body schema per microversion band (1.1-1.19 command is a string,
  1.20-1.38 a list, 1.39 adds ``host``, 1.40 adds ``entrypoint``), validated
  with jsonschema Draft 4 like zun/api/validation/validators.py (unknown key
  -> 400 ``container.schema-validation-error``).
* zun/common/utils.py VALID_STATES: which state allows which action (409
  ``container.invalid-state-exception`` otherwise); zun/common/consts.py
  for the status and task_state names.
* zun/common/exception.py + zun/api/middleware/parsable_error.py: the error
  body ``{"errors": [{"request_id": "", "code": "container.<fault>", "status":
  N, "title": ..., "detail": ..., "links": []}]}``; server errors carry the
  code ``container.`` and an obfuscated "Error Correlation id" detail.
* zun/api/utils.py enforce_content_types: a create whose Content-Type is not
  application/json crashes in Zun (``str.decode``) and answers a plain 500.
* zun/api/collection.py: the ``next`` link keeps only sort_key / sort_dir /
  limit / marker (filters and all_projects are dropped, as in Zun).
* zun/api/controllers/v1/views/containers_view.py: the container view keys;
  host, image_pull_policy, privileged and runtime only for admins.
* zunclient/v1/containers.py: bind mounts arrive with base64 ``source``
  (the file contents, zun/volume/driver.py ``Local``).

How "admin" is modelled: there is no Keystone.  A request must carry an
``X-Auth-Token`` (401 otherwise, as keystonemiddleware would answer); tokens
listed with ``--admin-token`` (default ``admin-token``) are admins of project
``admin``; any other token is a member of its own project (derived from the
token), so two tokens see different containers unless admin.

Asynchrony: POST answers 202 with status Creating; the container turns
Created after ``create_delay`` and Running ``start_delay`` later (run=true);
actions take ``action_delay`` (0 = at once); a delete marks it Deleting and
it disappears after ``delete_delay``.  Transitions are applied lazily when a
container is read, so no timer threads exist.

Fault knobs (``GET/POST /_fake/faults``, a path Zun does not use, or CLI
flags): ``fail_next`` requests answer ``fail_status`` (optionally only those
whose "METHOD path" contains ``fail_match``); ``drop_next`` requests get the
connection closed without an answer; ``delay`` seconds before every /v1
answer; images named in ``error_images`` (or starting with
``error_image_prefix``) end in Error with the given ``status_reason``.
``/_fake/stats`` counts requests per route; ``/_fake/containers`` shows the
stored records (mounts decoded) so tests can check what reached "Zun".
Start it as ``python -m tests.services.zun_api --port N``; ``ZunAPIService``
runs it as a separate process tests can kill.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import copy
import hashlib
import json
import logging
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

LOG = logging.getLogger("zun_api")

MIN_VERSION = (1, 1)
MAX_VERSION = (1, 40)
VERSION_HEADER = "OpenStack-API-Version"
SERVICE = "container"
JSON = "application/json"

# zun/common/consts.py
CREATING, CREATED, RUNNING, STOPPED, PAUSED = "Creating", "Created", "Running", "Stopped", "Paused"
ERROR, DELETING, DELETED, DEAD, UNKNOWN = "Error", "Deleting", "Deleted", "Dead", "Unknown"
RESTARTING, REBUILDING = "Restarting", "Rebuilding"

# zun/common/utils.py VALID_STATES (the subset of actions served here)
VALID_STATES: dict[str, set[str]] = {
    "delete": {CREATED, ERROR, STOPPED, DELETED, DEAD},
    "delete_force": {CREATED, CREATING, ERROR, RUNNING, STOPPED, UNKNOWN, DELETED, DEAD,
                     RESTARTING, REBUILDING, DELETING},
    "delete_after_stop": {RUNNING, CREATED, ERROR, STOPPED, DELETED, DEAD},
    "start": {CREATED, STOPPED, ERROR},
    "stop": {RUNNING},
    "reboot": {CREATED, RUNNING, STOPPED, ERROR},
    "pause": {RUNNING},
    "unpause": {PAUSED},
    "kill": {RUNNING},
}
#: action -> (task_state while it runs, status after it)
ACTIONS: dict[str, tuple[str, str]] = {
    "start": ("container_starting", RUNNING),
    "stop": ("container_stopping", STOPPED),
    "reboot": ("container_rebooting", RUNNING),
    "pause": ("container_pausing", PAUSED),
    "unpause": ("container_unpausing", RUNNING),
    "kill": ("container_killing", STOPPED),
}
#: zun/api/controllers/v1/views/containers_view.py _basic_keys
VIEW_KEYS = (
    "uuid", "user_id", "project_id", "name", "image", "links", "command", "status",
    "status_reason", "task_state", "cpu", "memory", "environment", "workdir", "ports",
    "hostname", "labels", "addresses", "image_pull_policy", "host", "restart_policy",
    "status_detail", "interactive", "tty", "image_driver", "security_groups", "auto_remove",
    "runtime", "disk", "auto_heal", "privileged", "healthcheck", "cpu_policy", "registry_id",
    "entrypoint", "created_at", "updated_at",
)
ADMIN_ONLY_VIEW_KEYS = {"host", "image_pull_policy", "privileged", "runtime"}
LIST_FILTERS = ("name", "image", "project_id", "user_id", "memory", "host", "task_state",
                "status", "auto_remove")

# --- request schemas (shapes of zun/api/controllers/v1/schemas/*.py) -------------

_BOOL = {"type": ["boolean", "string"], "enum": [True, "True", "true", False, "False", "false"]}
_BOOL_EXT = {"type": ["boolean", "string"],
             "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
                      False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No",
                      "no"]}
_TRUE_STRINGS = {"1", "t", "true", "on", "y", "yes"}
_NON_NEG_INT = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 0}
_NAME = {"type": ["string", "null"], "minLength": 2, "maxLength": 255,
         "pattern": "^[a-zA-Z0-9][a-zA-Z0-9_.-]+$"}
# parameter_types.hostname is defined twice; the second definition is the one in use.
_HOSTNAME = {"type": "string", "minLength": 1, "maxLength": 255,
             "pattern": "^[a-zA-Z0-9-._]*$"}


def _field_schemas() -> dict[str, Any]:
    """Zun's ``_legacy_container_properties`` with Zun's default CONF limits."""
    return {
        "name": _NAME,
        "image": {"type": "string", "minLength": 2, "maxLength": 255,
                  "pattern": "[a-zA-Z0-9][a-zA-Z0-9_.-]"},
        "command": {"type": ["string", "null"]},
        "cpu": {"type": ["number", "string", "null"], "pattern": r"^[0-9]*(\.([0-9]+))?$",
                "minLength": 1, "minimum": 0.1, "maximum": 16.0},
        "cpu_policy": {"type": "string", "enum": ["dedicated", "shared"]},
        "memory": {"type": ["string", "integer", "null"], "minimum": 4, "maximum": 8192,
                   "pattern": "^[0-9]+$"},
        "workdir": {"type": ["string", "null"]},
        "auto_remove": {"type": ["boolean", "null"]},
        "image_pull_policy": {"type": ["string", "null"],
                              "enum": ["never", "always", "ifnotpresent", "Never", "Always",
                                       "IfNotPresent", None]},
        "labels": {"type": ["object", "null"]},
        "environment": {"type": ["object", "null"],
                        "patternProperties": {".+": {"type": ["string"]}}},
        "restart_policy": {
            "type": ["object", "null"],
            "properties": {
                "Name": {"type": ["string"],
                         "enum": ["no", "always", "on-failure", "unless-stopped"]},
                "MaximumRetryCount": {"type": ["integer", "string", "null"], "minimum": 0,
                                      "pattern": "^[0-9]+$"},
            },
            "additionalProperties": False, "required": ["Name"]},
        "interactive": _BOOL,
        "tty": _BOOL,
        "image_driver": {"type": ["string", "null"], "enum": ["glance", "docker", None, "None"]},
        "security_groups": {"type": ["array", "null"],
                            "items": {"type": "string", "minLength": 1, "maxLength": 255}},
        "hints": {"type": ["object", "null"]},
        "mounts": {
            "type": ["array", "null"],
            "items": {"type": "object",
                      "properties": {"type": {"type": ["string"]},
                                     "source": {"type": ["string"]},
                                     "destination": {"type": ["string"]},
                                     "size": {"type": ["string", "integer"]}},
                      "additionalProperties": False,
                      "anyOf": [{"required": ["source", "destination"]},
                                {"required": ["size", "destination"]}]}},
        "nets": {
            "type": ["array", "null"],
            "items": {"type": "object",
                      "properties": {"network": {"type": ["string"], "minLength": 1,
                                                 "maxLength": 255},
                                     "v4-fixed-ip": {"type": ["string"], "format": "ipv4"},
                                     "v6-fixed-ip": {"type": ["string"], "format": "ipv6"},
                                     "port": {"type": ["string"], "maxLength": 255,
                                              "minLength": 1}},
                      "additionalProperties": False,
                      "oneOf": [{"required": ["network"]}, {"required": ["port"]}]}},
        "runtime": {"type": ["string", "null"]},
        "hostname": _HOSTNAME,
        "disk": {"type": ["string", "integer", "null"], "minimum": 1, "maximum": 160,
                 "pattern": "^[0-9]+$"},
        "availability_zone": {"type": ["string", "null"], "minLength": 1, "maxLength": 255},
        "auto_heal": _BOOL,
        "privileged": _BOOL,
        "healthcheck": {"type": ["object", "null"]},
        "exposed_ports": {"type": ["object", "null"]},
        "registry": {"type": ["string"], "minLength": 2, "maxLength": 255,
                     "pattern": "^[a-zA-Z0-9][a-zA-Z0-9_.-]+$"},
    }


def create_schema(version: tuple[int, int]) -> dict[str, Any]:
    """The create body schema of the microversion band ``version`` falls in."""
    props = _field_schemas()
    if version < (1, 20):
        return {"type": "object", "properties": props, "required": ["image"],
                "additionalProperties": False}
    props["command"] = {"type": ["array", "null"]}
    if version >= (1, 39):
        props["host"] = _HOSTNAME
    if version >= (1, 40):
        props["entrypoint"] = {"type": ["array", "null"]}
    return {"type": "object", "properties": props,
            "allOf": [{"required": ["image"]},
                      {"not": {"required": ["security_groups", "exposed_ports"]}}],
            "additionalProperties": False}


QUERY_CREATE = {"type": "object", "properties": {"run": _BOOL_EXT}, "additionalProperties": False}
QUERY_DELETE = {"type": "object", "additionalProperties": False,
                "properties": {"force": _BOOL_EXT, "all_projects": _BOOL_EXT, "stop": _BOOL_EXT}}
QUERY_STOP = {"type": "object", "properties": {"timeout": _NON_NEG_INT},
              "additionalProperties": False}

#: field -> the microversion that introduced it (api_utils.version_check calls)
FIELD_MIN_VERSION = {"auto_remove": (1, 3), "runtime": (1, 5), "hostname": (1, 9),
                     "mounts": (1, 11), "healthcheck": (1, 22), "exposed_ports": (1, 24),
                     "privileged": (1, 21), "registry": (1, 31)}


class ZunError(Exception):
    """An error answer in Zun's shape; ``fault`` is the kebab-case exception name."""

    def __init__(self, status: int, fault: str, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.fault = fault
        self.message = message
        self.headers = dict(headers or {})


def _validator(schema: Mapping[str, Any]) -> Any:
    """jsonschema Draft 4, with Zun's minimum/maximum that also read numeric strings."""
    import jsonschema

    base = jsonschema.Draft4Validator

    def numeric(instance: Any) -> Any:
        if isinstance(instance, int | float) and not isinstance(instance, bool):
            return instance
        try:
            return int(instance)
        except (TypeError, ValueError):
            try:
                return float(instance)
            except (TypeError, ValueError):
                return None

    def bound(keyword: str) -> Any:
        def check(validator: Any, value: Any, instance: Any, schema_: Any) -> Any:
            number = numeric(instance)
            if number is None:
                return None
            return base.VALIDATORS[keyword](validator, value, number, schema_)
        return check

    cls = jsonschema.validators.extend(base, {"minimum": bound("minimum"),
                                              "maximum": bound("maximum")})
    return cls(schema, format_checker=jsonschema.FormatChecker())


def validate(schema: Mapping[str, Any], data: Any, *, is_body: bool) -> None:
    """Raise Zun's SchemaValidationError (400) when ``data`` does not fit ``schema``."""
    import jsonschema

    try:
        _validator(schema).validate(data)
    except jsonschema.ValidationError as ex:
        if len(ex.path) > 0:
            what = "field" if is_body else "query parameters"
            detail = (f"Invalid input for {what} '{ex.path.pop()}'.Value: '{ex.instance}'. "
                      f"{ex.message}")
        else:
            detail = ex.message
        raise ZunError(400, "schema-validation-error", detail) from None


def parse_version(header: str | None) -> tuple[int, int]:
    """zun/api/controllers/versions.py Version.parse_headers + v1 _check_version."""
    value = header if header is not None else f"{SERVICE} 1.1"
    parts = value.split()
    if len(parts) != 2:
        raise _not_acceptable(f"Invalid service type for {VERSION_HEADER} header")
    service, number = parts
    if number.lower() == "latest":
        service, number = SERVICE, f"{MAX_VERSION[0]}.{MAX_VERSION[1]}"
    if service != SERVICE:
        raise _not_acceptable(f"Invalid service type for {VERSION_HEADER} header")
    try:
        version = tuple(int(i) for i in number.split("."))
    except ValueError:
        version = ()
    if len(version) != 2:
        raise _not_acceptable(f"Invalid value for {VERSION_HEADER} header")
    ver = (version[0], version[1])
    if ver[0] != 1:
        raise _not_acceptable(
            f"Mutually exclusive versions requested. Version {ver[0]}.{ver[1]} requested but "
            f"not supported by this service. The supported version range is: "
            f"[{SERVICE} 1.1, {SERVICE} 1.40].")
    if ver < MIN_VERSION or ver > MAX_VERSION:
        raise _not_acceptable(
            f"Version {ver[0]}.{ver[1]} was requested but the minor version is not supported "
            f"by this service. The supported version range is: [{SERVICE} 1.1, {SERVICE} 1.40].")
    return ver


def _not_acceptable(detail: str) -> ZunError:
    # http_error.HTTPNotAcceptableAPIVersion; Zun's own body loses the detail, ours keeps it.
    return ZunError(406, "microversion-unsupported", detail)


def _bool(value: Any) -> bool:
    return value is True or str(value).strip().lower() in _TRUE_STRINGS


def _now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


# --- state -------------------------------------------------------------------------


@dataclass
class Knobs:
    """What tests turn at run time (``POST /_fake/faults``) or at start (CLI flags)."""

    create_delay: float = 0.2
    start_delay: float = 0.1
    action_delay: float = 0.0
    delete_delay: float = 0.05
    delay: float = 0.0
    fail_next: int = 0
    fail_status: int = 500
    fail_match: str = ""
    drop_next: int = 0
    error_images: dict[str, str] = field(default_factory=dict)
    error_image_prefix: str = "error/"
    max_limit: int = 1000
    quota_containers: int = 40
    quota_cpu: float = 20.0
    quota_memory: int = 50 * 1024
    quota_disk: int = 100
    unique_names: str = ""  # "", "project" or "global" (Zun's unique_container_name_scope)


@dataclass(frozen=True)
class Caller:
    token: str
    project_id: str
    user_id: str
    is_admin: bool


class Store:
    """The containers, each a dict shaped like Zun's Container object plus private keys."""

    def __init__(self, knobs: Knobs) -> None:
        self.knobs = knobs
        self.lock = threading.RLock()
        self.containers: dict[str, dict[str, Any]] = {}
        self.next_id = 1
        self.next_ip = 2
        self.stats: dict[str, int] = {}

    # transitions are (due monotonic time, updates) applied when the container is read
    def settle(self, rec: dict[str, Any], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        pending = rec["_pending"]
        while pending and pending[0][0] <= now:
            _, updates = pending.pop(0)
            if updates.get("_remove"):
                self.containers.pop(rec["uuid"], None)
                return
            rec.update(updates)
            rec["updated_at"] = _now_text()

    def alive(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        for rec in list(self.containers.values()):
            self.settle(rec, now)
        return sorted(self.containers.values(), key=lambda r: r["_id"])

    def get(self, ident: str, caller: Caller) -> dict[str, Any]:
        """api_utils.get_resource: by uuid when it looks like one, else by name."""
        visible = [r for r in self.alive() if caller.is_admin
                   or r["project_id"] == caller.project_id]
        if _is_uuid_like(ident):
            found = [r for r in visible if r["uuid"] == ident]
        else:
            found = [r for r in visible if r["name"] == ident]
            if len(found) > 1:
                raise ZunError(409, "conflict", "Multiple containers exist with same name. "
                                                "Please use the container uuid instead.")
        if not found:
            raise ZunError(404, "container-not-found", f"Container {ident} could not be found.")
        return found[0]


def _is_uuid_like(value: str) -> bool:
    try:
        return str(uuid.UUID(value)).replace("-", "") == value.replace("-", "").lower()
    except (TypeError, ValueError, AttributeError):
        return False


# --- the API -------------------------------------------------------------------------


class ZunAPI:
    """Routes and Zun's rules, independent of the HTTP plumbing."""

    def __init__(self, knobs: Knobs | None = None, admin_tokens: tuple[str, ...] = ("admin-token",)
                 ) -> None:
        self.knobs = knobs or Knobs()
        self.initial_knobs = copy.deepcopy(self.knobs)
        self.store = Store(self.knobs)
        self.admin_tokens = set(admin_tokens)

    # -- callers --
    def caller(self, headers: Mapping[str, str]) -> Caller:
        token = headers.get("X-Auth-Token") or ""
        if not token:
            raise ZunError(401, "unauthorized",
                           "The request you have made requires authentication.")
        if token in self.admin_tokens:
            return Caller(token, "admin", "admin", True)
        digest = hashlib.sha256(token.encode()).hexdigest()
        return Caller(token, digest[:32], digest[32:64], False)

    # -- documents --
    @staticmethod
    def root_document(host_url: str) -> dict[str, Any]:
        version = {"id": "v1", "links": [{"href": f"{host_url}/v1/", "rel": "self"}],
                   "status": "CURRENT", "max_version": "1.40", "min_version": "1.1"}
        return {"name": "OpenStack Zun API",
                "description": "Zun is an OpenStack project which aims to provide containers "
                               "service.",
                "versions": [version], "default_version": version}

    @staticmethod
    def v1_document(host_url: str) -> dict[str, Any]:
        def links(res: str) -> list[dict[str, str]]:
            return [{"href": f"{host_url}/v1/{res}/", "rel": "self"},
                    {"href": f"{host_url}/{res}/", "rel": "bookmark"}]
        doc: dict[str, Any] = {
            "id": "v1",
            "media_types": [{"base": JSON, "type": "application/vnd.openstack.zun.v1+json"}],
            "links": [{"href": f"{host_url}/v1/", "rel": "self"},
                      {"href": "https://docs.openstack.org/developer/zun/dev/api-spec-v1.html",
                       "rel": "describedby", "type": "text/html"}],
        }
        for res in ("services", "containers", "images", "networks", "hosts", "capsules",
                    "availability_zones", "quotas", "quota_classes", "registries"):
            doc[res] = links(res)
        return doc

    # -- views --
    @staticmethod
    def view(rec: Mapping[str, Any], host_url: str, caller: Caller) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in VIEW_KEYS:
            if key in ADMIN_ONLY_VIEW_KEYS and not caller.is_admin:
                continue
            if key == "links":
                out["links"] = [
                    {"href": f"{host_url}/v1/containers/{rec['uuid']}", "rel": "self"},
                    {"href": f"{host_url}/containers/{rec['uuid']}", "rel": "bookmark"}]
            else:
                out[key] = rec.get(key)  # nested values are replaced, never mutated: no copy
        return out

    # -- containers --
    def create(self, caller: Caller, version: tuple[int, int], query: Mapping[str, str],
               body: Any, host_url: str) -> tuple[dict[str, Any], str]:
        validate(QUERY_CREATE, dict(query), is_body=False)
        validate(create_schema(version), body, is_body=True)
        spec: dict[str, Any] = dict(body)
        for name, minimum in FIELD_MIN_VERSION.items():
            if spec.get(name) not in (None, [], {}) and version < minimum:
                raise ZunError(400, "invalid-param-in-version",
                               f"Invalid param {name} because current request version is "
                               f"{version[0]}.{version[1]}. {name} is only supported from "
                               f"version {minimum[0]}.{minimum[1]}")
        if "privileged" in spec:
            raise _policy("container:create:privileged")
        if spec.get("image_pull_policy") and not caller.is_admin:
            raise _policy("container:create:image_pull_policy")
        if spec.get("runtime") is not None and not caller.is_admin:
            raise _policy("container:create:runtime")
        if spec.get("host") and not caller.is_admin:
            raise _policy("container:create:requested_destination")
        command = spec.get("command")
        if isinstance(command, str):
            import shlex
            spec["command"] = shlex.split(command)
        run = _bool(query.get("run", False))
        spec["interactive"] = _bool(spec.get("interactive", False))
        if spec.get("security_groups"):
            spec["security_groups"] = sorted(set(spec["security_groups"]))
        cpu = float(spec["cpu"]) if spec.get("cpu") is not None else 1.0
        memory = str(spec["memory"]) if spec.get("memory") is not None else "512"
        disk = int(spec["disk"]) if spec.get("disk") is not None else None
        restart = spec.get("restart_policy")
        if restart:
            restart = dict(restart)
            count = int(restart.setdefault("MaximumRetryCount", "0"))
            if restart["Name"] in ("unless-stopped", "always") and count != 0:
                raise ZunError(400, "invalid-value", "maximum retry count not valid with "
                                                     f"restart policy of {restart['Name']}")
            if restart["Name"] == "no":
                restart["MaximumRetryCount"] = "0"
        mounts = self._mounts(spec.get("mounts") or [])
        with self.store.lock:
            self._check_quota(caller, cpu, int(memory), disk or 0)
            name = spec.get("name") or self._generate_name()
            self._check_unique(caller, name)
            rec = self._record(caller, spec, name, cpu, memory, disk, restart, mounts)
            self._schedule_create(rec, run)
            self.store.containers[rec["uuid"]] = rec
            self.store.next_id += 1
            return self.view(rec, host_url, caller), f"{host_url}/v1/containers/{rec['uuid']}"

    def _record(self, caller: Caller, spec: Mapping[str, Any], name: str, cpu: float,
                memory: str, disk: int | None, restart: Any,
                mounts: list[dict[str, Any]]) -> dict[str, Any]:
        container_uuid = str(uuid.uuid4())
        now = _now_text()
        image_driver = spec.get("image_driver")
        return {
            "_id": self.store.next_id, "_pending": [], "_mounts": mounts,
            "_hints": spec.get("hints"), "_nets": spec.get("nets") or [],
            "_availability_zone": spec.get("availability_zone"),
            "uuid": container_uuid, "user_id": caller.user_id, "project_id": caller.project_id,
            "name": name, "image": spec["image"], "command": spec.get("command"),
            "status": CREATING, "status_reason": None, "task_state": "image_pulling",
            "cpu": cpu, "memory": memory, "environment": spec.get("environment") or {},
            "workdir": spec.get("workdir"), "ports": [],
            "hostname": spec.get("hostname") or container_uuid[:12],
            "labels": spec.get("labels") or {}, "addresses": self._addresses(spec),
            "image_pull_policy": spec.get("image_pull_policy"), "host": "zun-compute-1",
            "restart_policy": restart, "status_detail": None,
            "interactive": spec["interactive"], "tty": _bool(spec.get("tty", False)),
            "image_driver": None if image_driver in (None, "None") else image_driver,
            "security_groups": spec.get("security_groups") or ["default"],
            "auto_remove": bool(spec.get("auto_remove") or False), "runtime": "runc",
            "disk": disk if disk is not None else 0, "auto_heal": _bool(spec.get("auto_heal",
                                                                                 False)),
            "privileged": False, "healthcheck": spec.get("healthcheck") or {},
            "cpu_policy": spec.get("cpu_policy") or "shared", "registry_id": None,
            "entrypoint": spec.get("entrypoint"), "created_at": now, "updated_at": None,
        }

    def _schedule_create(self, rec: dict[str, Any], run: bool) -> None:
        knobs = self.knobs
        t0 = time.monotonic()
        pending = rec["_pending"]
        pending.append((t0 + knobs.create_delay / 2, {"task_state": "container_creating"}))
        reason = knobs.error_images.get(rec["image"])
        if reason is None and knobs.error_image_prefix \
                and rec["image"].startswith(knobs.error_image_prefix):
            reason = ("Docker internal error: 404 Client Error: Not Found (\"pull access "
                      f"denied for {rec['image']}, repository does not exist or may require "
                      "'docker login'\").")
        if reason is not None:
            pending.append((t0 + knobs.create_delay,
                            {"status": ERROR, "status_reason": reason, "task_state": None}))
            return
        pending.append((t0 + knobs.create_delay,
                        {"status": CREATED, "task_state": "container_starting" if run else None,
                         "status_detail": "Created"}))
        if run:
            pending.append((t0 + knobs.create_delay + knobs.start_delay,
                            {"status": RUNNING, "task_state": None,
                             "status_detail": "Up 1 second"}))

    def _mounts(self, mounts: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for mount in mounts:
            kind = mount.get("type", "volume")
            item: dict[str, Any] = {"type": kind, "destination": mount["destination"]}
            if kind == "bind":
                try:
                    item["content"] = base64.b64decode(mount.get("source", ""), validate=True)
                except (binascii.Error, ValueError):
                    raise ZunError(400, "invalid-value",
                                   "Invalid Base 64 file data.") from None
            else:
                item.update({k: mount[k] for k in ("source", "size") if k in mount})
            out.append(item)
        return out

    def _addresses(self, spec: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
        nets = spec.get("nets") or [{"network": "private"}]
        out: dict[str, list[dict[str, Any]]] = {}
        for net in nets:
            network = net.get("network") or str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                            "port-net:" + net["port"]))
            store = self.store
            n = store.next_ip
            addr = net.get("v4-fixed-ip") or f"10.0.{n // 250}.{n % 250 + 2}"
            store.next_ip += 1
            out.setdefault(network, []).append({
                "addr": addr, "version": 4, "port": net.get("port") or str(uuid.uuid4()),
                "subnet_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "subnet:" + network)),
                "preserve_on_delete": bool(net.get("port"))})
        return out

    def _check_quota(self, caller: Caller, cpu: float, memory: int, disk: int) -> None:
        mine = [r for r in self.store.alive() if r["project_id"] == caller.project_id]
        k = self.knobs
        overs = []
        if k.quota_containers >= 0 and len(mine) + 1 > k.quota_containers:
            overs.append("containers")
        if k.quota_cpu >= 0 and sum(r["cpu"] for r in mine) + cpu > k.quota_cpu:
            overs.append("cpu")
        if k.quota_memory >= 0 and sum(int(r["memory"]) for r in mine) + memory > k.quota_memory:
            overs.append("memory")
        if k.quota_disk >= 0 and sum(r["disk"] or 0 for r in mine) + disk > k.quota_disk:
            overs.append("disk")
        if overs:
            raise ZunError(403, "over-quota", f"Quota exceeded for resources: {overs}")

    def _check_unique(self, caller: Caller, name: str) -> None:
        scope = self.knobs.unique_names
        if not scope:
            return
        for rec in self.store.alive():
            if rec["name"] == name and (scope == "global"
                                        or rec["project_id"] == caller.project_id):
                raise ZunError(409, "container-already-exists",
                               f"A container with name {name} already exists.")

    def _generate_name(self) -> str:
        words = ("alpha", "bravo", "delta", "echo", "golf", "kilo", "lima", "oscar", "zeta")
        return f"{words[self.store.next_id % len(words)]}-{self.store.next_id}-container"

    def show(self, caller: Caller, ident: str, query: Mapping[str, str],
             host_url: str) -> dict[str, Any]:
        unknown = set(query) - {"all_projects"}
        if unknown:
            raise ZunError(400, "invalid-value", f"Unknown parameters: {', '.join(unknown)}")
        with self.store.lock:
            return self.view(self.store.get(ident, caller), host_url, caller)

    def list(self, caller: Caller, query: Mapping[str, str], host_url: str) -> dict[str, Any]:
        params = dict(query)
        all_projects = _bool(params.pop("all_projects", False))
        if all_projects and not caller.is_admin:
            raise _policy("container:get_all_all_projects")
        limit_text = params.pop("limit", None)
        try:
            if limit_text is not None and int(limit_text) <= 0:
                raise ValueError
            limit = min(self.knobs.max_limit, int(limit_text)) if limit_text is not None \
                else self.knobs.max_limit
        except ValueError:
            raise ZunError(400, "invalid-value", "Limit must be positive integer") from None
        sort_dir = params.pop("sort_dir", "asc")
        if sort_dir not in ("asc", "desc"):
            raise ZunError(400, "invalid-value", f"Invalid sort direction: {sort_dir}. "
                                                 "Acceptable values are 'asc' or 'desc'")
        sort_key = params.pop("sort_key", "id")
        params.pop("expand", None)
        filters = {k: params.pop(k) for k in LIST_FILTERS if k in params}
        if "host" in filters and not caller.is_admin:
            raise _policy("container:get_one:host")
        marker = params.pop("marker", None)
        if params:
            raise ZunError(400, "invalid-value", f"Unknown parameters: {', '.join(params)}")
        with self.store.lock:
            rows = [r for r in self.store.alive()
                    if (all_projects or r["project_id"] == caller.project_id)]
            rows = [r for r in rows if all(_matches(r.get(k), v) for k, v in filters.items())]
            key = "_id" if sort_key == "id" else sort_key
            rows.sort(key=lambda r: (_sortable(r.get(key)), r["_id"]),
                      reverse=(sort_dir == "desc"))
            if marker:
                mark = self.store.get(marker, Caller("", caller.project_id, caller.user_id,
                                                     caller.is_admin or all_projects))
                position = (_sortable(mark.get(key)), mark["_id"])
                if sort_dir == "desc":
                    rows = [r for r in rows if (_sortable(r.get(key)), r["_id"]) < position]
                else:
                    rows = [r for r in rows if (_sortable(r.get(key)), r["_id"]) > position]
            page = rows[:limit]
            out = [self.view(r, host_url, caller) for r in page]
        nxt = None
        if out and len(out) == limit:
            nxt = (f"{host_url}/v1/containers?sort_key={sort_key}&sort_dir={sort_dir}&"
                   f"limit={limit}&marker={out[-1]['uuid']}")
        return {"containers": out, "next": nxt}

    def delete(self, caller: Caller, version: tuple[int, int], ident: str,
               query: Mapping[str, str]) -> None:
        validate(QUERY_DELETE, dict(query), is_body=False)
        if _bool(query.get("all_projects", False)) and not caller.is_admin:
            raise _policy("container:delete_all_projects")
        force = _bool(query.get("force", False))
        stop = _bool(query.get("stop", False))
        with self.store.lock:
            rec = self.store.get(ident, caller)
            if not force and not stop:
                _check_state(rec, "delete")
            elif force and not stop:
                _version_check("force", version, (1, 7))
                if not caller.is_admin:
                    raise _policy("container:delete_force")
                _check_state(rec, "delete_force")
            else:
                _version_check("stop", version, (1, 12))
                _check_state(rec, "delete_after_stop")
            rec["status"] = DELETING
            rec["task_state"] = "container_deleting"
            rec["_pending"] = [(time.monotonic() + self.knobs.delete_delay, {"_remove": True})]
            if self.knobs.delete_delay <= 0:
                self.store.settle(rec)

    def action(self, caller: Caller, ident: str, action: str, query: Mapping[str, str]) -> None:
        if action == "stop":
            validate(QUERY_STOP, dict(query), is_body=False)
        elif action not in ("reboot",) and query:
            pass  # Zun ignores extra query parameters on start/pause/unpause/kill
        with self.store.lock:
            rec = self.store.get(ident, caller)
            _check_state(rec, action)
            task_state, final = ACTIONS[action]
            delay = self.knobs.action_delay
            updates = {"status": final, "task_state": None,
                       "status_detail": {RUNNING: "Up 1 second", PAUSED: "Up 1 second (Paused)",
                                         STOPPED: "Exited(0) 1 second ago"}.get(final)}
            if action == "reboot":
                rec["status"] = RESTARTING
            if delay <= 0:
                rec.update(updates)
                rec["updated_at"] = _now_text()
                rec["_pending"] = []
            else:
                rec["task_state"] = task_state
                rec["_pending"] = [(time.monotonic() + delay, updates)]

    def availability_zones(self, host_url: str) -> dict[str, Any]:
        return {"availability_zones": [{"availability_zone": "nova"}], "next": None}


def _matches(value: Any, wanted: str) -> bool:
    if isinstance(value, bool):
        return value == _bool(wanted)
    return str(value) == wanted


def _sortable(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, value)
    return (2, str(value))


def _check_state(rec: Mapping[str, Any], action: str) -> None:
    if rec["status"] not in VALID_STATES[action]:
        raise ZunError(409, "invalid-state-exception",
                       f"Cannot {action} container {rec['uuid']} in {rec['status']} state")


def _version_check(param: str, version: tuple[int, int], minimum: tuple[int, int]) -> None:
    if version < minimum:
        raise ZunError(400, "invalid-param-in-version",
                       f"Invalid param {param} because current request version is "
                       f"{version[0]}.{version[1]}. {param} is only supported from version "
                       f"{minimum[0]}.{minimum[1]}")


def _policy(action: str) -> ZunError:
    return ZunError(403, "policy-not-authorized",
                    f"Policy doesn't allow {action} to be performed.")


# --- HTTP plumbing -----------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Maps HTTP onto ``ZunAPI``; keep-alive (HTTP/1.1) like a real WSGI server."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body in separate segments would meet delayed ACKs (40 ms a request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        if self.server.verbose:
            LOG.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    # -- dispatch --
    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        api = self.server.api
        if path.startswith("/_fake"):
            self._fake(method, path, raw)
            return
        route = _route_name(method, path)
        with api.store.lock:
            api.store.stats[route] = api.store.stats.get(route, 0) + 1
        knobs = api.knobs
        if self._drop(api):
            return
        if knobs.delay > 0:
            time.sleep(knobs.delay)
        extra: dict[str, str] = {}
        try:
            if self._injected_failure(api, f"{method} {path}"):
                raise _server_error(knobs.fail_status)
            if path == "/" and method == "GET":
                self._json(200, api.root_document(self._host_url()))
                return
            segments = [s for s in path.split("/") if s]
            if segments[0] != "v1":
                raise ZunError(404, "", "The resource could not be found.")
            version = parse_version(self.headers.get(VERSION_HEADER))
            extra = {"OpenStack-API-Minimum-Version": f"{SERVICE} 1.1",
                     "OpenStack-API-Maximum-Version": f"{SERVICE} 1.40",
                     VERSION_HEADER: f"{SERVICE} {version[0]}.{version[1]}",
                     "Vary": VERSION_HEADER}
            caller = api.caller(self.headers)
            self._v1(method, segments[1:], version, caller, query, raw, extra)
        except ZunError as err:
            self._error(err, extra)
        except _PlainServerError:
            self._send(500, b"A server error occurred.  Please contact the administrator.",
                       "text/plain", extra)
        except Exception:  # a bug here must still answer like a server error
            LOG.exception("zun_api: unhandled error on %s %s", method, path)
            self._error(_server_error(500), extra)

    def _v1(self, method: str, segments: list[str], version: tuple[int, int], caller: Caller,
            query: dict[str, str], raw: bytes, extra: dict[str, str]) -> None:
        api = self.server.api
        host = self._host_url()
        if not segments:
            if method != "GET":
                raise ZunError(405, "", "The method is not allowed for this resource.")
            self._json(200, api.v1_document(host), extra)
            return
        if segments == ["availability_zones"] and method == "GET":
            self._json(200, api.availability_zones(host), extra)
            return
        if segments[0] != "containers" or len(segments) > 3:
            raise ZunError(404, "", "The resource could not be found.")
        if len(segments) == 1:
            if method == "GET":
                self._json(200, api.list(caller, query, host), extra)
            elif method == "POST":
                content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                if content_type != JSON:
                    raise _PlainServerError()
                body = _json_body(raw)
                view, location = api.create(caller, version, query, body, host)
                self._json(202, view, {**extra, "Location": location})
            else:
                raise ZunError(405, "", "The method is not allowed for this resource.")
            return
        ident = segments[1]
        if len(segments) == 2:
            if method == "GET":
                self._json(200, api.show(caller, ident, query, host), extra)
            elif method == "DELETE":
                api.delete(caller, version, ident, query)
                self._send(204, b"", None, extra)
            else:
                raise ZunError(405, "", "The method is not allowed for this resource.")
            return
        action = segments[2]
        if action not in ACTIONS or method != "POST":
            raise ZunError(404, "", "The resource could not be found.")
        api.action(caller, ident, action, query)
        self._send(202, b"null", JSON, extra)

    # -- faults --
    def _drop(self, api: ZunAPI) -> bool:
        with api.store.lock:
            if api.knobs.drop_next <= 0:
                return False
            api.knobs.drop_next -= 1
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(2)
        return True

    @staticmethod
    def _injected_failure(api: ZunAPI, what: str) -> bool:
        with api.store.lock:
            knobs = api.knobs
            if knobs.fail_next <= 0 or (knobs.fail_match and knobs.fail_match not in what):
                return False
            knobs.fail_next -= 1
            return True

    def _fake(self, method: str, path: str, raw: bytes) -> None:
        api = self.server.api
        store = api.store
        with store.lock:
            if path == "/_fake/faults" and method == "GET":
                self._json(200, asdict(api.knobs))
            elif path == "/_fake/faults" and method == "POST":
                updates = _json_body(raw) if raw else {}
                known = {f.name for f in fields(Knobs)}
                unknown = set(updates) - known
                if unknown:
                    self._json(400, {"error": f"unknown knobs {sorted(unknown)}"})
                    return
                for key, value in updates.items():
                    setattr(api.knobs, key, value)
                self._json(200, asdict(api.knobs))
            elif path == "/_fake/reset" and method == "POST":
                store.containers.clear()
                store.stats.clear()
                for knob in fields(Knobs):
                    setattr(api.knobs, knob.name,
                            copy.deepcopy(getattr(api.initial_knobs, knob.name)))
                self._json(200, {})
            elif path == "/_fake/stats" and method == "GET":
                self._json(200, dict(store.stats))
            elif path == "/_fake/stats" and method == "DELETE":
                store.stats.clear()
                self._json(200, {})
            elif path == "/_fake/containers" and method == "GET":
                self._json(200, {"containers": [_dump(r) for r in store.alive()]})
            elif path.startswith("/_fake/containers/") and method == "GET":
                rec = store.containers.get(path.rsplit("/", 1)[1])
                if rec is not None:
                    store.settle(rec)
                rec = store.containers.get(path.rsplit("/", 1)[1])
                if rec is None:
                    self._json(404, {"error": "no such container"})
                else:
                    self._json(200, _dump(rec))
            else:
                self._json(404, {"error": "unknown fake route"})

    # -- answers --
    def _host_url(self) -> str:
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}"

    def _json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), JSON, headers)

    def _error(self, err: ZunError, headers: Mapping[str, str] | None = None) -> None:
        if err.status == 401:  # keystonemiddleware's own body, outside Zun's middleware
            body: dict[str, Any] = {"error": {"code": 401, "title": "Unauthorized",
                                              "message": err.message}}
        else:
            if err.status >= 500:
                title = _STATUS_TITLES.get(err.status, "Error")
            elif err.status == 406:  # http_error.HTTPNotAcceptableAPIVersion's title
                title = "Requested microversion is unsupported"
            else:
                title = err.message
            body = {"errors": [{"request_id": "", "code": f"container.{err.fault}",
                                "status": err.status, "title": title, "detail": err.message,
                                "links": []}]}
        self._json(err.status, body, {**(headers or {}), **err.headers})

    def _send(self, status: int, payload: bytes, content_type: str | None,
              headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("x-openstack-request-id", f"req-{uuid.uuid4()}")
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)


class _PlainServerError(Exception):
    """Zun crashes outside its error middleware: a plain-text 500."""


_STATUS_TITLES = {500: "Internal Server Error", 502: "Bad Gateway",
                  503: "Service Unavailable", 504: "Gateway Timeout"}


def _server_error(status: int) -> ZunError:
    correlation = uuid.uuid4()
    return ZunError(status, "", "Your request could not be handled because of a problem in the "
                                f"server. Error Correlation id is: {correlation}")


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError):
        raise ZunError(400, "invalid-value", "Malformed JSON in the request body.") from None


def _route_name(method: str, path: str) -> str:
    segments = [s for s in path.split("/") if s]
    if len(segments) >= 3 and segments[:2] == ["v1", "containers"]:
        segments[2] = "{id}"
    return f"{method} /" + "/".join(segments)


def _dump(rec: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in rec.items() if not k.startswith("_")}
    out["mounts"] = [
        {**{k: v for k, v in m.items() if k != "content"},
         **({"content_b64": base64.b64encode(m["content"]).decode()} if "content" in m else {})}
        for m in rec["_mounts"]]
    out["hints"] = rec["_hints"]
    out["nets"] = rec["_nets"]
    out["availability_zone"] = rec["_availability_zone"]
    return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: ZunAPI, verbose: bool = False) -> None:
        super().__init__(address, _Handler)
        self.api = api
        self.verbose = verbose


def serve_in_thread(host: str = "127.0.0.1", port: int = 0, knobs: Knobs | None = None,
                    admin_tokens: tuple[str, ...] = ("admin-token",)
                    ) -> tuple[_Server, threading.Thread]:
    """Run the server in this process (for quick unit tests); ``server.shutdown()`` stops it."""
    server = _Server((host, port), ZunAPI(knobs, admin_tokens))
    thread = threading.Thread(target=server.serve_forever, name="zun-api", daemon=True)
    thread.start()
    return server, thread


# --- the client-side wrapper tests use ---------------------------------------------


class ZunAPIService:
    """Runs the server as its own OS process (``ManagedProcess``) and turns its knobs."""

    def __init__(self, workdir: Path, *, port: int | None = None,
                 args: tuple[str, ...] = ()) -> None:
        from tests.services._proc import free_port

        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.args = tuple(args)
        self.process: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        """What a driver's ``endpoint`` option takes (the /v1 root, as in a catalog)."""
        return f"{self.url}/v1"

    def start(self, timeout: float = 20.0) -> ZunAPIService:
        from tests.services._proc import ManagedProcess, http_ok, wait_until

        repo = Path(__file__).resolve().parents[2]
        argv = [sys.executable, "-m", "tests.services.zun_api", "--port", str(self.port),
                *self.args]
        self.process = ManagedProcess("zun-api", argv, self.workdir / "zun-api.log",
                                      cwd=repo).start()
        try:
            wait_until(lambda: self.process.alive() and http_ok(self.url + "/"), timeout,
                       interval=0.05, what="the Zun API server")
        except TimeoutError:
            tail = self.process.log_tail()
            self.stop()
            raise RuntimeError(f"Zun API server did not start: {tail}") from None
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=5)

    def kill(self) -> None:
        """SIGKILL: the server goes away mid-run."""
        if self.process is not None:
            self.process.kill()

    def restart(self, timeout: float = 20.0) -> ZunAPIService:
        """A fresh server on the same port (state is lost, as after a crash)."""
        self.stop()
        return self.start(timeout)

    def faults(self, **knobs: Any) -> dict[str, Any]:
        return self._admin("POST", "/_fake/faults", knobs)

    def knobs(self) -> dict[str, Any]:
        return self._admin("GET", "/_fake/faults")

    def reset(self) -> None:
        self._admin("POST", "/_fake/reset", {})

    def stats(self) -> dict[str, int]:
        return self._admin("GET", "/_fake/stats")

    def clear_stats(self) -> None:
        self._admin("DELETE", "/_fake/stats")

    def containers(self) -> list[dict[str, Any]]:
        return list(self._admin("GET", "/_fake/containers")["containers"])

    def container(self, container_uuid: str) -> dict[str, Any] | None:
        try:
            return self._admin("GET", f"/_fake/containers/{container_uuid}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": JSON} if data else {})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def __enter__(self) -> ZunAPIService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running(workdir: Path, *args: str) -> Iterator[ZunAPIService]:
    """``with running(tmp_path) as zun: ...`` starts and always stops the server."""
    service = ZunAPIService(workdir, args=args)
    try:
        yield service.start()
    finally:
        service.stop()


# --- command line ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-token", action="append", dest="admin_tokens",
                        help="a token that is admin (repeatable; default: admin-token)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    defaults = Knobs()
    for knob in fields(Knobs):
        value = getattr(defaults, knob.name)
        if isinstance(value, bool | dict):
            continue
        parser.add_argument("--" + knob.name.replace("_", "-"), type=type(value), default=value)
    parser.add_argument("--error-image", action="append", default=[], metavar="IMAGE=REASON",
                        help="an image that ends in Error with this status_reason")
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    knobs = Knobs(**{k.name: getattr(opts, k.name) for k in fields(Knobs)
                     if hasattr(opts, k.name)})
    for item in opts.error_image:
        image, _, reason = item.partition("=")
        knobs.error_images[image] = reason or "image failed"
    server = _Server((opts.host, opts.port),
                     ZunAPI(knobs, tuple(opts.admin_tokens or ("admin-token",))),
                     verbose=opts.verbose)
    LOG.info("zun API listening on http://%s:%d/v1", opts.host, opts.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
