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
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from vega_datasets import local_data

from api.settings import Settings, settings_env
from tests.process.serving import Served

SCHEMATHESIS = Path(sys.executable).parent / "st"
#: The connection-testing routes open connections to whatever host a request names: fuzzing
#: them is fuzzing the network (they are tested against real PostgreSQL elsewhere).
NOT_FUZZED = r"/connectors/[^/]+/(test|tables)$"
USER = "fuzz@example.com"
WEATHER = Path(local_data.seattle_weather.filepath)


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


def fuzz(served: Served, directory: Path, *, parameters: dict[str, str] | None = None) -> None:
    """Run schemathesis against ``served``; ``parameters`` fixes path parameters (real ids),
    through a config file written in ``directory``."""
    assert served.url is not None
    config: list[str] = []
    if parameters:
        toml = directory / "schemathesis.toml"
        toml.write_text(
            "[parameters]\n"
            + "".join(f'{name} = "{value}"\n' for name, value in parameters.items())
        )
        config = ["--config-file", str(toml)]
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            *config,
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
            f"X-Loupe-Dev-User: {USER}",
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


@pytest.mark.slow
def test_no_request_gets_a_server_error(served: Served, tmp_path: Path) -> None:
    fuzz(served, tmp_path)


@pytest.mark.slow
def test_no_request_about_real_data_gets_a_server_error(served: Served, tmp_path: Path) -> None:
    """The same with the ids of a real workspace, CSV dataset, report and visual in every
    path: queries, rows, measures, charts and exports run against real data."""
    assert served.url is not None
    with httpx.Client(
        base_url=served.url, headers={"X-Loupe-Dev-User": USER}, timeout=60
    ) as client:
        workspace = client.post("/workspaces", json={"name": "Fuzz"}).json()["id"]
        upload = client.post(
            f"/workspaces/{workspace}/datasets",
            files={"file": ("weather.csv", WEATHER.read_bytes(), "text/csv")},
            data={"name": "Weather"},
        )
        assert upload.status_code == 201, upload.text
        dataset = upload.json()["id"]
        made = client.post(
            f"/workspaces/{workspace}/reports", json={"name": "R", "dataset_id": dataset}
        )
        assert made.status_code == 201, made.text
        report = made.json()["id"]
        page, visual = str(uuid.uuid4()), str(uuid.uuid4())
        edits = client.post(
            f"/reports/{report}/commands",
            json={
                "command_id": str(uuid.uuid4()),
                "client_id": "fuzz",
                "commands": [
                    {"type": "AddPage", "page_id": page, "name": "P"},
                    {
                        "type": "AddVisual",
                        "visual_id": visual,
                        "page_id": page,
                        "visual_type": "column",
                        "x": 0,
                        "y": 0,
                        "w": 8,
                        "h": 8,
                    },
                    {"type": "BindField", "visual_id": visual, "well": "x", "field": "weather"},
                    {
                        "type": "BindField",
                        "visual_id": visual,
                        "well": "y",
                        "field": "wind",
                        "aggregation": "sum",
                    },
                ],
            },
        )
        assert edits.status_code == 200, edits.text
    fuzz(
        served,
        tmp_path,
        parameters={
            "workspace_id": workspace,
            "dataset_id": dataset,
            "report_id": report,
            "visual_id": visual,
        },
    )
