"""Secrets never reach a log line, while every backend call is logged at DEBUG.

A secret is planted in user_data, in config-drive files (str, bytes and a
file-like) and in an SSH key comment; everything logged at DEBUG (all loggers,
plugin tracing on) is captured and searched for it.  The dispatcher's per-call
DEBUG line must carry backend, operation, amphora id and duration.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from amphora_compute.config import Config
from amphora_compute.dispatcher import Dispatcher
from amphora_compute.errors import BackendUnavailableError, CircuitOpenError
from amphora_compute.models import BuildRequest
from amphora_compute.plugins import TRACE_ENV

SECRET = "pl4nted-Secr3t-7f3a9c"
CALL_LINE = re.compile(r"^backend=(?P<backend>\S+) op=(?P<op>\S+) id=(?P<id>.+?) "
                       r"duration_ms=(?P<ms>\d+\.\d) outcome=(?P<outcome>\S+)$")


def _request(name: str, amphora_type: str = "vm") -> BuildRequest:
    return BuildRequest(
        name=name, amphora_type=amphora_type,
        user_data=f"#cloud-config\npassword: {SECRET}\n",
        config_drive_files={"/etc/amphora/secret.pem": SECRET,
                            "/etc/amphora/token": SECRET.encode(),
                            "/etc/amphora/agent.conf": io.StringIO(f"key={SECRET}\n")},
        ssh_keys=[f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA {SECRET}@host"])


def _everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """The formatted text plus each record's raw message and arguments."""
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(repr(record.exc_info[1]))
    return "\n".join(parts)


def _call_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, str]]:
    lines = []
    for record in caplog.records:
        if record.name == "amphora_compute.dispatcher" and record.levelno == logging.DEBUG:
            match = CALL_LINE.match(record.getMessage())
            if match:
                lines.append(match.groupdict())
    return lines


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture,
               monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    monkeypatch.setenv(TRACE_ENV, "1")  # plugin hook calls are logged too
    caplog.set_level(logging.DEBUG)  # the root logger: every library's DEBUG lines
    return caplog


def test_lifecycle_through_the_dispatcher_logs_no_secret(
        debug_logs: pytest.LogCaptureFixture) -> None:
    with Dispatcher(Config()) as dispatcher:
        amphora_id = dispatcher.build(_request("secret-1"))
        dispatcher.statuses([amphora_id])
        dispatcher.get_amphora(amphora_id=amphora_id)
        dispatcher.get_amphora(amphora_name="secret-1")
        dispatcher.suspend(amphora_id)
        dispatcher.resume(amphora_id)
        dispatcher.list()
        dispatcher.delete(amphora_id)
    logged = _everything_logged(debug_logs)
    assert SECRET not in logged
    assert "plugin trace" in logged  # tracing was on: its lines were searched too
    assert amphora_id in logged


def test_each_backend_call_has_one_debug_line(debug_logs: pytest.LogCaptureFixture) -> None:
    with Dispatcher(Config()) as dispatcher:
        amphora_id = dispatcher.build(_request("lines-1", "container"))
        dispatcher.get_amphora(amphora_id=amphora_id)
        dispatcher.suspend(amphora_id)
        dispatcher.resume(amphora_id)
        dispatcher.statuses([amphora_id])
        dispatcher.delete(amphora_id)
    lines = _call_lines(debug_logs)
    assert [line["op"] for line in lines] == ["build", "get_amphora", "suspend", "resume",
                                              "statuses", "delete"]
    assert {line["backend"] for line in lines} == {"noop-container"}
    assert all(line["outcome"] == "ok" for line in lines)
    assert all(float(line["ms"]) >= 0.0 for line in lines)
    by_op = {line["op"]: line for line in lines}
    for op in ("get_amphora", "suspend", "resume", "delete"):
        assert by_op[op]["id"] == amphora_id, by_op[op]
    assert by_op["statuses"]["id"] == "1 ids"


def test_the_build_line_names_the_new_amphora(debug_logs: pytest.LogCaptureFixture) -> None:
    with Dispatcher(Config()) as dispatcher:
        amphora_id = dispatcher.build(_request("lines-2"))
    build = [line for line in _call_lines(debug_logs) if line["op"] == "build"]
    assert build and build[0]["id"] == amphora_id


def test_failures_log_the_outcome_and_still_no_secret(
        debug_logs: pytest.LogCaptureFixture) -> None:
    config = Config(backends={"noop-vm": {"failure_rate": 1.0}})
    errors: list[str] = []
    with Dispatcher(config) as dispatcher:
        for _ in range(6):  # past fail_max (5): the breaker opens and refuses the sixth
            try:
                dispatcher.build(_request("fails-1"))
            except (BackendUnavailableError, CircuitOpenError) as exc:
                errors.append(f"{type(exc).__name__}: {exc} {exc.__cause__!r}")
    assert errors[-1].startswith("CircuitOpenError")
    lines = _call_lines(debug_logs)
    assert [line["outcome"] for line in lines] == ["BackendUnavailableError"] * 5 + [
        "CircuitOpenError"]
    assert all(line["op"] == "build" and line["backend"] == "noop-vm" for line in lines)
    transitions = [r.getMessage() for r in debug_logs.records if r.levelno == logging.WARNING
                   and "circuit breaker" in r.getMessage()]
    assert transitions and "closed -> open" in transitions[0]
    assert SECRET not in _everything_logged(debug_logs)
    assert not [e for e in errors if SECRET in e]  # nor in what the caller sees


def _amphora_script() -> str:
    for found in (shutil.which("amphora", path=os.path.dirname(sys.executable)),
                  shutil.which("amphora", path=sysconfig.get_path("scripts")),
                  shutil.which("amphora")):
        if found:
            return found
    pytest.fail(f"the 'amphora' console script is not installed for {sys.executable}")


def test_cli_debug_output_has_no_secret(tmp_path: Path) -> None:
    """`amphora --debug` logs every call to stderr: the planted secret is in none of it."""
    user_data = tmp_path / "user-data"
    user_data.write_text(f"#cloud-config\npassword: {SECRET}\n")
    key = tmp_path / "id.pub"
    key.write_text(f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA {SECRET}@host\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMPHORA_")}
    env.update(XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               AMPHORA_NOOP_STATE=str(tmp_path / "noop.json"), **{TRACE_ENV: "1"})
    script = _amphora_script()
    build = subprocess.run(
        [script, "--debug", "build", "--type", "vm", "--name", "cli-secret", "--user-data",
         str(user_data), "--config-drive-file", f"/etc/amphora/secret={user_data}",
         "--ssh-key", str(key), "--wait", "--timeout", "30", "--format", "json"],
        env=env, capture_output=True, text=True, timeout=60)
    assert build.returncode == 0, build.stderr
    amphora_id = json.loads(build.stdout)["id"]
    show = subprocess.run([script, "show", amphora_id, "--debug"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert show.returncode == 0, show.stderr
    for result in (build, show):
        assert SECRET not in result.stdout and SECRET not in result.stderr
    assert "op=build" in build.stderr and f"id={amphora_id}" in show.stderr
    # the Noop state file holds no request content either
    assert SECRET not in Path(env["AMPHORA_NOOP_STATE"]).read_text()
