"""Render workers do not outlive the process that started them, however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import asyncio, os, sys
from charts.render import render_svg_async

async def main():
    await render_svg_async({"data": {"values": [{"a": 1}]}, "mark": "point",
                            "encoding": {"x": {"field": "a", "type": "quantitative"}}})
    print("rendered", flush=True)
    await asyncio.sleep(3600)

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_render_workers_exit_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "render_then_wait.py"
    script.write_text(SCRIPT)
    parent = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
    )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == b"rendered"
        workers = [
            child
            for child in psutil.Process(parent.pid).children(recursive=True)
            if "spawn_main" in " ".join(child.cmdline())
        ]
        assert workers, "the render ran in no worker process"
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        _, alive = psutil.wait_procs(workers, timeout=15)
        assert alive == [], f"render workers left behind: {[w.pid for w in alive]}"
    finally:
        if parent.poll() is None:
            parent.kill()
        for child in psutil.process_iter(["cmdline"]):
            if str(script) in " ".join(child.info["cmdline"] or []):
                child.kill()
