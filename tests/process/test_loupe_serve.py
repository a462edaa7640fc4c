"""`loupe serve` as a newcomer runs it: no configuration, embedded engines, a printed URL,
and nothing left running afterwards however it ends."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.process.serving import LOUPE, Served, gone


@pytest.fixture
def directory() -> Iterator[Path]:
    # Not under pytest's tmp_path: see tests/conftest.py (the postgres user must reach it).
    path = Path(tempfile.mkdtemp(prefix="loupe-serve-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_serve_with_no_configuration_answers_and_stops_cleanly_on_sigterm(directory):
    served = Served(directory)
    engines = served.descendants()
    names = {process.name() for process in engines}
    assert {"postgres", "nats-server", "redis-server"} <= names, names
    health = served.get("/health")
    assert health.status_code == 200, health.text
    assert health.json()["components"] == {"postgres": "ok", "nats": "ok", "redis": "ok"}
    created = served.post("/workspaces", {"name": "Kept"})
    assert created.status_code == 201, created.text
    assert (directory / "var" / "postgres").is_dir()

    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(30) == 0, "".join(served.lines[-30:])
    assert gone(engines) == []

    again = Served(directory)
    engines = again.descendants()
    try:
        listed = again.get("/workspaces").json()["workspaces"]
        assert [w["name"] for w in listed] == ["Kept"], "data must survive a restart"
    finally:
        again.process.send_signal(signal.SIGINT)  # Ctrl-C
        assert again.process.wait(30) == 0
    assert gone(engines) == []


def _projections_child(served: Served) -> psutil.Process | None:
    for process in served.descendants():
        with contextlib.suppress(psutil.NoSuchProcess):
            if "--no-relay" in process.cmdline():
                return process
    return None


def _wait_for(check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    return None


def test_serve_runs_its_projections_in_a_child_that_comes_back_when_killed(directory):
    served = Served(directory, args=("--projections", "process"))
    try:
        child = _wait_for(lambda: _projections_child(served))
        assert child is not None, "".join(served.lines[-30:])
        assert child.cmdline()[-2:] == ["projector", "--no-relay"]
        child.kill()
        replaced = _wait_for(
            lambda: (found := _projections_child(served)) and found.pid != child.pid and found
        )
        assert replaced is not None, "".join(served.lines[-30:])
        # The read models follow the log again: a read that waits for a write sees it.
        workspace = served.post("/workspaces", {"name": "After"}).json()
        report = served.post(f"/workspaces/{workspace['id']}/reports", {"name": "R"}).json()
        read = served.get(f"/reports/{report['id']}?min_position={report['position']}")
        assert read.status_code == 200, read.text
        assert read.json()["name"] == "R"
    finally:
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(30) == 0, "".join(served.lines[-30:])


@pytest.mark.slow
def test_a_killed_serve_leaves_no_engine_behind(directory):
    served = Served(directory)
    engines = served.descendants()
    assert engines
    served.process.kill()
    served.process.wait(10)
    assert gone(engines) == [], [p.info for p in engines]


@pytest.mark.slow
def test_two_serves_in_different_directories_run_side_by_side(directory):
    second_dir = Path(tempfile.mkdtemp(prefix="loupe-serve-"))
    second_dir.chmod(0o755)
    first = Served(directory)
    try:
        second = Served(second_dir)
        try:
            assert first.url != second.url
            assert first.get("/health").status_code == 200
            assert second.get("/health").status_code == 200
            assert first.post("/workspaces", {"name": "Only here"}).status_code == 201
            assert second.get("/workspaces").json() == {"workspaces": []}
        finally:
            second.process.terminate()
            second.process.wait(30)
    finally:
        first.process.terminate()
        first.process.wait(30)
        shutil.rmtree(second_dir, ignore_errors=True)


def test_a_busy_explicit_port_is_a_clear_error(directory):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [str(LOUPE), "serve", "--port", str(port)],
            cwd=directory,
            capture_output=True,
            check=False,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("LOUPE_")},
        )
    assert result.returncode != 0
    assert f"port {port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (directory / "var").exists(), "nothing should start when the port is taken"


@pytest.mark.slow
def test_other_loupe_commands_use_the_engines_of_a_running_serve(directory):
    served = Served(directory)
    try:
        assert served.post("/workspaces", {"name": "Seen"}).status_code == 201
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOUPE_")}
        status = subprocess.run(
            [str(LOUPE), "projections", "status"],
            cwd=directory,
            capture_output=True,
            check=False,
            text=True,
            timeout=120,
            env=env,
        )
        assert status.returncode == 0, status.stderr
        assert "Using the engines of the Loupe running" in status.stderr
        assert "workspaces" in status.stdout
        rebuilt = subprocess.run(
            [str(LOUPE), "projections", "rebuild", "workspaces"],
            cwd=directory,
            capture_output=True,
            check=False,
            text=True,
            timeout=120,
            env=env,
        )
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert "rebuilt workspaces" in rebuilt.stdout
        listed = served.get("/workspaces").json()["workspaces"]
        assert [w["name"] for w in listed] == ["Seen"]
    finally:
        served.process.terminate()
        served.process.wait(30)
