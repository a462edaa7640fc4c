"""The production layout: `loupe serve --no-processors` answers the API, `loupe projector`
keeps the read models and `loupe worker` makes the exports — the job is queued by one process
and rendered by another, and its file is there to download."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pypdf

from api.settings import settings_env
from tests.api.charts_support import wait_for_export, weather_report
from tests.server import running_loupe

LOUPE = Path(sys.executable).parent / "loupe"


@contextlib.contextmanager
def _process(settings, command: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOUPE_")}
    env.update(settings_env(settings))
    env["LOUPE_LOG_LEVEL"] = "WARNING"
    process = subprocess.Popen(
        [str(LOUPE), command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


async def test_an_export_queued_by_the_api_is_made_by_loupe_worker(settings):
    with _process(settings, "projector"), _process(settings, "worker") as worker:
        async with (
            running_loupe(settings, processors=False) as loupe,
            loupe.client() as client,
        ):
            report = await weather_report(client)
            job = (await client.post(f"/reports/{report.report_id}/exports", json={})).json()
            done = await wait_for_export(client, job["id"], timeout=120)
            assert done["status"] == "complete", done
            pdf = (await client.get(done["download"])).content
        assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
    text = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Days by weather" in text
    assert f"Report v{report.version}" in text
