"""The ``amphora`` CLI, run as real subprocesses through the installed console script.

Every test gets a private state directory: ``XDG_STATE_HOME`` / ``XDG_CONFIG_HOME``
point at temporary directories and ``AMPHORA_NOOP_STATE`` names the Noop state
file, which is how ``build`` in one process and ``show`` in the next see the same
amphora.  Exit codes: 0 ok, 1 compute error, 2 usage or invalid request,
3 not found, 4 circuit open.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from amphora_compute import cli
from amphora_compute.breakers import BreakerRegistry
from amphora_compute.config import BreakerSettings
from amphora_compute.dispatcher import Dispatcher
from amphora_compute.errors import BackendUnavailableError, CircuitOpenError

BACKEND_LIBRARIES = ("openstack", "zunclient", "ironicclient", "netmiko", "paramiko", "redis",
                     "pybreaker", "keystoneauth1", "asyncssh")
TYPES = ("vm", "container", "baremetal", "hardware_lb")
TIMEOUT = 60

Run = Callable[..., subprocess.CompletedProcess[str]]


def amphora_script() -> str:
    """The installed ``amphora`` console script of this interpreter's environment."""
    for found in (shutil.which("amphora", path=os.path.dirname(sys.executable)),
                  shutil.which("amphora", path=sysconfig.get_path("scripts")),
                  shutil.which("amphora")):
        if found:
            return found
    pytest.fail(f"the 'amphora' console script is not installed for {sys.executable}")


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AMPHORA_", "PYTHONPATH"))}
    env.update(XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               AMPHORA_NOOP_STATE=str(tmp_path / "noop-state.json"))
    return env


@pytest.fixture
def amphora(cli_env: dict[str, str]) -> Run:
    """``amphora(*args, expect=0)``: run the console script, check its exit code."""
    script = amphora_script()

    def run(*args: str, expect: int | None = 0, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([script, *args], env=cli_env, capture_output=True, text=True,
                                timeout=TIMEOUT, input=stdin)
        if expect is not None:
            assert result.returncode == expect, (
                f"amphora {' '.join(args)} exited {result.returncode}, expected {expect}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}")
        return result

    return run


@pytest.fixture
def amphora_parallel(cli_env: dict[str, str]) -> Callable[..., list[Any]]:
    """Run independent commands at once (each CLI start costs a few hundred ms).

    ``amphora_parallel((args, expect), ...)`` -> their CompletedProcess, in order.
    """
    script = amphora_script()

    def run(*cases: tuple[tuple[str, ...], int]) -> list[subprocess.CompletedProcess[str]]:
        started = [(args, expect, subprocess.Popen(
            [script, *args], env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)) for args, expect in cases]
        results = []
        for args, expect, process in started:
            out, err = process.communicate(timeout=TIMEOUT)
            assert process.returncode == expect, (
                f"amphora {' '.join(args)} exited {process.returncode}, expected {expect}\n"
                f"stdout: {out}\nstderr: {err}")
            results.append(subprocess.CompletedProcess([script, *args], process.returncode,
                                                       out, err))
        return results

    return run


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def _one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    """An expected error: exactly one line on stderr, starting 'amphora: error:'."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("amphora: error: "), lines
    assert "Traceback" not in result.stderr
    return lines[0]


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / f"config-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(text)
    return str(path)


# -- start-up ---------------------------------------------------------------------------


def test_help_works(amphora: Run) -> None:
    result = amphora("--help")
    assert result.stdout.startswith("usage: amphora")
    for command in ("types", "plugins", "build", "status", "show", "list", "delete",
                    "suspend", "resume", "breakers", "demo"):
        assert command in result.stdout
    build_help = amphora("build", "--help").stdout
    for option in ("--type", "--name", "--flavor", "--image", "--image-tag", "--image-owner",
                   "--key-name", "--ssh-key", "--sec-group", "--network", "--az",
                   "--server-group", "--user-data", "--config-drive-file", "--wait",
                   "--timeout", "--format"):
        assert option in build_help, option


def test_help_imports_no_backend_library(cli_env: dict[str, str]) -> None:
    code = (
        "import json, sys\n"
        "import amphora_compute.cli as cli\n"
        "for argv in (['--help'], ['build', '--help'], ['status', '--help']):\n"
        "    try:\n"
        "        cli.main(argv)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        "print(json.dumps(sorted(sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", code], env=cli_env, capture_output=True,
                            text=True, timeout=TIMEOUT, check=True)
    modules = json.loads(result.stdout.splitlines()[-1])
    assert "amphora_compute.cli" in modules
    loaded = {m for m in modules if m.split(".")[0] in BACKEND_LIBRARIES}
    assert not loaded, sorted(loaded)
    # and nothing of the machinery a command needs is loaded for --help either
    assert "amphora_compute.dispatcher" not in modules
    assert "pluggy" not in modules


def test_console_script_help_imports_no_backend_library(cli_env: dict[str, str]) -> None:
    """The same check on the real console script process, via -X importtime."""
    result = subprocess.run([sys.executable, "-X", "importtime", amphora_script(), "--help"],
                            env=cli_env, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:") and "|" in line}
    assert "amphora_compute.cli" in imported
    assert not {m for m in imported if m.split(".")[0] in BACKEND_LIBRARIES}


# -- the commands ---------------------------------------------------------------------------


def test_demo_runs_every_type_and_cleans_up(amphora: Run) -> None:
    out = amphora("demo").stdout
    table = [line.split() for line in out.splitlines()]
    table = [row for row in table if len(row) == 7 and row[4] == "ACTIVE"]
    assert {row[2] for row in table} == set(TYPES), out
    assert {row[1] for row in table} == {
        "demo-vm", "demo-container", "demo-baremetal", "demo-hardware-lb"}
    assert ": SUSPENDED" in out and "resume" in out and out.count("=DELETED") == 4
    # the demo uses private in-memory state: nothing is left in the CLI's state file
    assert _json(amphora("list", "--format", "json")) == []


def test_build_prints_id_and_status(amphora: Run) -> None:
    data = _json(amphora("build", "--type", "vm", "--name", "x", "--format", "json"))
    assert set(data) == {"id", "status"}
    assert data["status"] in ("BUILDING", "ACTIVE")
    uuid.UUID(data["id"])
    table = amphora("build", "--type", "container", "--name", "y").stdout.splitlines()
    assert table[0].split() == ["ID", "STATUS"] and len(table) == 2


def test_build_with_wait_returns_the_record(amphora: Run, tmp_path: Path) -> None:
    key = tmp_path / "id.pub"
    key.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample amp@test\n")
    cfg_file = tmp_path / "hosts"
    cfg_file.write_text("127.0.0.1 localhost\n")
    data = _json(amphora(
        "build", "--type", "BareMetal", "--name", "bm-1", "--flavor", "vcpus=2,ram_mb=2048",
        "--image-tag", "amphora", "--image-owner", "proj", "--ssh-key", str(key),
        "--sec-group", "sg-1", "--network", "net-1", "--az", "nova",
        "--config-drive-file", f"/etc/hosts={cfg_file}", "--idempotency-key", "k-1",
        "--wait", "--timeout", "30", "--format", "json"))
    assert data["status"] == "ACTIVE"
    record = data["amphora"]
    assert (record["id"], record["name"], record["type"], record["backend"]) == (
        data["id"], "bm-1", "baremetal", "noop-baremetal")
    assert record["flavor"] == "vcpus=2,ram_mb=2048" and record["image"] == "tag:amphora@proj"
    # the same idempotency key in another process returns the same amphora
    again = _json(amphora("build", "--type", "baremetal", "--name", "bm-1",
                          "--idempotency-key", "k-1", "--format", "json"))
    assert again["id"] == data["id"]


def test_state_is_shared_between_processes(amphora: Run,
                                           amphora_parallel: Callable[..., list[Any]]) -> None:
    amphora_id = _json(amphora("build", "--type", "vm", "--name", "shared-1",
                               "--format", "json"))["id"]
    unknown = str(uuid.uuid4())
    shown, status, listed, listed_other = amphora_parallel(
        (("show", amphora_id, "--format", "json"), 0),
        (("status", amphora_id, unknown, "--format", "json"), 0),
        (("list", "--format", "json"), 0),
        (("list", "--type", "container", "--format", "json"), 0))
    shown = _json(shown)
    assert (shown["id"], shown["name"], shown["type"], shown["backend"], shown["status"]) == (
        amphora_id, "shared-1", "vm", "noop-vm", "ACTIVE")
    # one batch call answers for every id, an unknown one included
    assert _json(status) == [{"id": amphora_id, "status": "ACTIVE", "fault": None},
                             {"id": unknown, "status": "DELETED", "fault": None}]
    assert [a["id"] for a in _json(listed)] == [amphora_id]
    assert _json(listed_other) == []

    assert _json(amphora("suspend", amphora_id, "--format", "json")) == {
        "id": amphora_id, "status": "SUSPENDED"}
    assert _json(amphora("status", amphora_id, "--format", "json"))[0]["status"] == "SUSPENDED"
    assert _json(amphora("resume", amphora_id, "--format", "json")) == {
        "id": amphora_id, "status": "ACTIVE"}
    assert _json(amphora("delete", amphora_id, "--format", "json")) == [
        {"id": amphora_id, "status": "DELETING"}]

    gone, missing, empty, again = amphora_parallel(
        (("status", amphora_id, "--format", "json"), 0),
        (("show", amphora_id), 3),
        (("list", "--format", "json"), 0),
        (("delete", amphora_id, "--wait", "--timeout", "10"), 0))  # already gone: success
    assert _json(gone)[0]["status"] == "DELETED"
    assert amphora_id in _one_clear_line(missing)
    assert _json(empty) == []


def test_show_table_output(amphora: Run) -> None:
    amphora_id = _json(amphora("build", "--type", "hardware_lb", "--name", "hw-1",
                               "--format", "json"))["id"]
    lines = amphora("show", amphora_id).stdout.splitlines()
    fields = {line.split()[0]: line.split()[1:] for line in lines}
    assert fields["id"] == [amphora_id] and fields["name"] == ["hw-1"]
    assert fields["type"] == ["hardware_lb"] and fields["status"] == ["ACTIVE"]
    assert list(fields) == ["id", "name", "type", "backend", "status", "raw_status", "fault",
                            "addresses", "flavor", "image", "availability_zone", "created_at"]


def test_concurrent_cli_processes_do_not_corrupt_the_state_file(
        cli_env: dict[str, str], amphora: Run,
        amphora_parallel: Callable[..., list[Any]]) -> None:
    results = amphora_parallel(*[
        (("build", "--type", TYPES[i % 4], "--name", f"par-{i}", "--format", "json"), 0)
        for i in range(8)])
    ids = [_json(result)["id"] for result in results]
    assert len(set(ids)) == 8
    listed = _json(amphora("list", "--format", "json"))
    assert {a["id"] for a in listed} == set(ids)
    assert {a["name"] for a in listed} == {f"par-{i}" for i in range(8)}
    state = json.loads(Path(cli_env["AMPHORA_NOOP_STATE"]).read_text())
    assert sum(len(state[b]["amphorae"]) for b in state) == 8


def test_breakers_lists_one_per_backend(amphora_parallel: Callable[..., list[Any]]) -> None:
    as_json, table = amphora_parallel((("breakers", "--format", "json"), 0), (("breakers",), 0))
    rows = _json(as_json)
    assert {r["name"] for r in rows} == {"backend:noop-vm", "backend:noop-container",
                                         "backend:noop-baremetal", "backend:noop-hardware-lb"}
    assert all(r["state"] == "closed" and r["fail_counter"] == 0 and r["fail_max"] == 5
               for r in rows)
    lines = table.stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "STATE"]
    assert sorted(line.split()[0] for line in lines[1:]) == sorted(r["name"] for r in rows)


def test_types_output(amphora_parallel: Callable[..., list[Any]], tmp_path: Path) -> None:
    config = _config(tmp_path, '[types]\nvm = "no-such-backend"\n')
    as_json, table, missing = amphora_parallel(
        (("types", "--format", "json"), 0), (("types",), 0),
        (("types", "--config", config, "--format", "json"), 0))
    assert [(r["type"], r["backend"], r["plugin"]) for r in _json(as_json)] == [
        ("vm", "noop-vm", "noop"), ("container", "noop-container", "noop"),
        ("baremetal", "noop-baremetal", "noop"), ("hardware_lb", "noop-hardware-lb", "noop")]
    assert _json(missing)[0] == {"type": "vm", "backend": "no-such-backend",
                                 "plugin": "MISSING", "description": "no such backend"}
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["TYPE", "BACKEND", "PLUGIN", "DESCRIPTION"]
    assert [line.split()[0] for line in lines[1:]] == list(TYPES)


def test_plugins_output(amphora_parallel: Callable[..., list[Any]]) -> None:
    as_json, table = amphora_parallel((("plugins", "--format", "json"), 0), (("plugins",), 0))
    rows = {r["plugin"]: r for r in _json(as_json)}
    assert rows["noop"]["status"] == "loaded" and rows["noop"]["source"] == "built-in"
    assert set(rows["noop"]["backends"]) == {"noop-vm", "noop-container", "noop-baremetal",
                                             "noop-hardware-lb"}
    assert not [r for r in rows.values() if r["status"] != "loaded"]
    assert table.stdout.splitlines()[0].split()[:2] == ["PLUGIN", "SOURCE"]


def test_global_options_work_before_the_subcommand(
        amphora_parallel: Callable[..., list[Any]]) -> None:
    """`amphora --format json types` must honour --format like `amphora types --format json`."""
    before, after, debug = amphora_parallel(
        (("--format", "json", "types"), 0), (("types", "--format", "json"), 0),
        (("--debug", "build", "--type", "vm", "--name", "bad;name"), 2))
    assert _json(before) == _json(after)
    assert "Traceback" in debug.stderr


# -- errors and exit codes ---------------------------------------------------------------


def test_invalid_names_exit_2_with_one_line(amphora: Run,
                                            amphora_parallel: Callable[..., list[Any]]) -> None:
    names = ["bad;name", "a" * 64, "$(id)", "-x", "a\nb", "ämp"]
    results = amphora_parallel(*[(("build", "--type", "vm", f"--name={name}"), 2)
                                 for name in names])
    for result in results:
        assert "name" in _one_clear_line(result) and result.stdout == ""
    assert _json(amphora("list", "--format", "json")) == []  # nothing reached a backend


def test_error_exit_codes(amphora_parallel: Callable[..., list[Any]], tmp_path: Path) -> None:
    unknown = str(uuid.uuid4())
    bad_config = _config(tmp_path, "[breakers]\nfail_max = 0\n")
    bad_options = _config(tmp_path, "[backends.noop-vm]\nlatencyy = 1\n")
    failing = _config(tmp_path, "[backends.noop-vm]\nfailure_rate = 1.0\n")
    cases: list[tuple[tuple[str, ...], int, str]] = [
        (("show", unknown), 3, unknown),
        (("suspend", unknown), 3, unknown),
        (("resume", unknown), 3, unknown),
        (("build", "--type", "mainframe", "--name", "x"), 2, "mainframe"),
        (("list", "--type", "mainframe"), 2, "mainframe"),
        (("build", "--type", "vm", "--name", "x", "--image-owner", "p"), 2, "image_owner"),
        (("build", "--type", "vm", "--name", "x", "--config-drive-file", "no-equals"), 2,
         "DEST=SRC"),
        (("build", "--type", "vm", "--name", "x", "--config-drive-file", "etc/x=/dev/null"), 2,
         "config_drive_files"),
        (("build", "--type", "vm", "--name", "x", "--flavor", "vcpus=1,ram=2"), 2, "flavor"),
        (("types", "--config", bad_config), 2, "breakers.fail_max"),
        (("types", "--config", str(tmp_path / "missing.toml")), 2, "does not exist"),
        (("build", "--type", "vm", "--name", "x", "--config", bad_options), 2, "latencyy"),
        (("build", "--type", "vm", "--name", "x", "--config", failing), 1, "injected failure"),
    ]
    results = amphora_parallel(*[(args, code) for args, code, _ in cases])
    for (args, _, needle), result in zip(cases, results, strict=True):
        assert needle in _one_clear_line(result), (args, result.stderr)


def test_usage_errors_exit_2(amphora_parallel: Callable[..., list[Any]]) -> None:
    missing_name, bad_command, two_images = amphora_parallel(
        (("build", "--type", "vm"), 2), (("no-such-command",), 2),
        (("build", "--type", "vm", "--name", "x", "--image", "a", "--image-tag", "b"), 2))
    assert "required" in missing_name.stderr
    assert "no-such-command" in bad_command.stderr
    assert "not allowed with" in two_images.stderr


def test_missing_files_exit_2_and_debug_shows_the_traceback(
        amphora_parallel: Callable[..., list[Any]], tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    base = ("build", "--type", "vm", "--name", "x")
    user_data, debug, ssh_key, drive_file = amphora_parallel(
        ((*base, "--user-data", missing), 2),
        ((*base, "--user-data", missing, "--debug"), 2),
        ((*base, "--ssh-key", missing), 2),
        ((*base, "--config-drive-file", f"/etc/x={missing}"), 2))
    line = _one_clear_line(user_data)
    assert missing in line and "user_data" in line and "No such file" in line
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-1] == line
    assert "ssh_keys" in _one_clear_line(ssh_key)
    assert "config_drive_files" in _one_clear_line(drive_file)


def test_json_errors_are_json_objects(amphora_parallel: Callable[..., list[Any]],
                                      tmp_path: Path) -> None:
    cases = [
        (("build", "--type", "vm", "--name", "bad;name"), 2, "InvalidRequestError"),
        (("show", str(uuid.uuid4())), 3, "InstanceNotFoundError"),
        (("build", "--type", "mainframe", "--name", "x"), 2, "InvalidRequestError"),
        (("types", "--config", str(tmp_path / "missing.toml")), 2, "ConfigError"),
    ]
    results = amphora_parallel(*[((*args, "--format", "json"), code)
                                 for args, code, _ in cases])
    for (_, code, error), result in zip(cases, results, strict=True):
        data = json.loads(result.stdout)
        assert data["error"] == error and data["exit_code"] == code
        assert isinstance(data["message"], str) and data["message"]


def test_unsupported_operation_exits_2(amphora: Run, tmp_path: Path) -> None:
    config = _config(tmp_path, '[backends.noop-vm]\ndisable_capabilities = ["suspend"]\n')
    amphora_id = _json(amphora("build", "--type", "vm", "--name", "ns", "--config", config,
                               "--format", "json"))["id"]
    assert "not supported" in _one_clear_line(amphora("suspend", amphora_id, "--config",
                                                      config, expect=2))


def test_open_circuit_exits_4_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI's mapping CircuitOpenError -> 4, with a breaker tripped before the command.

    Each CLI process has its own in-memory breakers and stops at its first error, so
    one process cannot trip a breaker and then hit it; the shared (Redis) variant of
    this test does it across two processes.
    """
    monkeypatch.setenv("AMPHORA_NOOP_STATE", str(tmp_path / "state.json"))
    registry = BreakerRegistry(BreakerSettings(fail_max=1, reset_timeout=3600))
    with pytest.raises(BackendUnavailableError), registry.guard("backend:noop-vm"):
        raise BackendUnavailableError("down")
    drivers: list[Any] = []

    def dispatcher(args: Any, config: Any = None) -> Dispatcher:
        made = Dispatcher(config or cli._config(args), breakers=registry)
        drivers.append(made.driver("vm"))
        return made

    monkeypatch.setattr(cli, "_dispatcher", dispatcher)
    assert cli.main(["build", "--type", "vm", "--name", "x"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("amphora: error: circuit breaker backend:noop-vm is open")
    assert "next trial at" in err and "down" in err
    assert list(drivers[0].calls) == []  # refused without touching the backend
    assert cli.main(["build", "--type", "vm", "--name", "x", "--format", "json"]) == 4
    data = json.loads(capsys.readouterr().out)
    assert data["error"] == CircuitOpenError.__name__ and data["exit_code"] == 4
    # another type's breaker is closed: its backend still works
    assert cli.main(["build", "--type", "container", "--name", "x"]) == 0


@pytest.mark.functional
def test_open_circuit_exits_4_across_processes(amphora: Run, tmp_path: Path,
                                               redis_server: Any) -> None:
    """Breaker state in Redis: one CLI process trips it, the next is refused (exit 4)."""
    import redis

    # a database of our own in the session's server, so no other test's breakers count
    url = redis_server.url.rsplit("/", 1)[0] + "/11"
    redis.Redis.from_url(url).flushdb()
    config = _config(tmp_path, f"""
[breakers]
fail_max = 1
reset_timeout = 3600
redis_url = "{url}"
[backends.noop-vm]
failure_rate = 1.0
""")
    name = "shared-breaker"
    first = amphora("build", "--type", "vm", "--name", name, "--config", config, expect=1)
    assert "injected failure" in first.stderr
    second = amphora("build", "--type", "vm", "--name", name, "--config", config, expect=4)
    assert "backend:noop-vm is open" in _one_clear_line(second)
    rows = {r["name"]: r for r in _json(amphora("breakers", "--config", config, "--format",
                                                "json"))}
    assert rows["backend:noop-vm"]["state"] == "open" and rows["backend:noop-vm"]["retry_at"]
    assert rows["backend:noop-container"]["state"] == "closed"
    amphora("build", "--type", "container", "--name", name, "--config", config)


def test_orphans_is_a_dry_run_until_delete(amphora: Run, tmp_path: Path) -> None:
    ids = [_json(amphora("build", "--type", "vm", "--name", f"o{i}", "--format", "json"))["id"]
           for i in range(3)]
    known = tmp_path / "known.txt"
    known.write_text(f"# the controller's amphorae\n{ids[0]}\n\n")
    dry = _json(amphora("orphans", "--known", str(known), "--min-age", "0", "--format", "json"))
    assert sorted(r["id"] for r in dry) == sorted(ids[1:])
    assert {r["action"] for r in dry} == {"none (dry run)"}
    young = _json(amphora("orphans", "--known", str(known), "--format", "json"))
    assert young == []  # just built: may be a build whose id the controller has not stored
    assert len(_json(amphora("list", "--format", "json"))) == 3  # a dry run deletes nothing
    done = _json(amphora("orphans", "--known", "-", "--min-age", "0", "--delete",
                         "--format", "json", stdin=f"{ids[0]}\n"))
    assert {r["action"] for r in done} == {"deleted"} and len(done) == 2
    assert [r["id"] for r in _json(amphora("list", "--format", "json"))] == [ids[0]]


def test_orphans_refuses_to_delete_everything_for_an_empty_known_file(
        amphora: Run, tmp_path: Path) -> None:
    amphora("build", "--type", "vm", "--name", "keep")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n# nothing\n")
    line = _one_clear_line(amphora("orphans", "--known", str(empty), "--min-age", "0",
                                   "--delete", expect=2))
    assert "refusing to delete every amphora" in line
    assert len(_json(amphora("list", "--format", "json"))) == 1


def test_orphans_without_known_ids_are_failed_builds(amphora: Run, tmp_path: Path) -> None:
    config = _config(tmp_path, '[backends.noop-vm]\nbuild_outcome = "error"\n'
                               'build_fault = "No valid host was found"\n')
    failed = _json(amphora("build", "--type", "vm", "--name", "bad", "--config", config,
                           "--format", "json"))["id"]
    amphora("build", "--type", "container", "--name", "fine", "--config", config)
    rows = _json(amphora("orphans", "--min-age", "0", "--config", config, "--format", "json"))
    assert [(r["id"], r["reason"]) for r in rows] == [(failed, "ERROR: No valid host was found")]
    table = amphora("orphans", "--min-age", "0", "--config", config)
    assert "pass --delete" in table.stderr and failed in table.stdout
