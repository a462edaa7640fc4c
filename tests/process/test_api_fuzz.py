"""No request that the OpenAPI document allows — nor one it forbids — gets a server error.

Schemathesis reads `loupe serve`'s own OpenAPI document and sends, to every operation, the
examples, boundary values and random requests it derives from it (valid and invalid: ids that
do not exist or belong to another kind of thing, numbers past a bigint, NUL characters), with
a fixed seed, so a run is repeatable. Any 5xx fails the test with the request to replay it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from api.settings import Settings, settings_env
from tests.process.serving import Served

SCHEMATHESIS = Path(sys.executable).parent / "st"
#: The connection-testing routes open connections to whatever host a request names: fuzzing
#: them is fuzzing the network (they are tested against real PostgreSQL elsewhere).
NOT_FUZZED = r"/connectors/[^/]+/(test|tables)$"


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    # Not under pytest's tmp_path: see tests/conftest.py (the postgres user must reach it).
    directory = Path(tempfile.mkdtemp(prefix="loupe-fuzz-"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = settings_env(msgspec.structs.replace(settings, data_dir=directory / "var"))
    env["LOUPE_PORT"] = str(port)
    process = Served(directory, extra_env=env)
    try:
        yield process
    finally:
        process.process.terminate()
        try:
            process.process.wait(30)
        except subprocess.TimeoutExpired:
            process.process.kill()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.slow
def test_no_request_gets_a_server_error(served: Served) -> None:
    assert served.url is not None
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{served.url}/schema/openapi.json",
            "--checks",
            "not_a_server_error",
            "--phases",
            "fuzzing,stateful",
            "--max-examples",
            "100",
            "--seed",
            "20261201",
            "--workers",
            "2",
            "--exclude-path-regex",
            NOT_FUZZED,
            "--header",
            "X-Loupe-Dev-User: fuzz@example.com",
            "--no-color",
            # Hypothesis' health checks judge the generator (too slow on a busy machine, too
            # many values filtered), not the API: they would make the run depend on the machine.
            "--suppress-health-check",
            "all",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, (
        report[-6000:] + "\n--- server log ---\n" + "".join(served.lines[-60:])
    )
    assert "Selected:" in report  # it ran against the document, not nothing
