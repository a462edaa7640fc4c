"""A `loupe serve` process for tests: started with its own environment, its printed URL
read from its output, its descendants (engines, render workers) listed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import psutil

LOUPE = Path(sys.executable).parent / "loupe"
URL = re.compile(r"Loupe is running at (http://\S+)")
START_TIMEOUT = 120


class Served:
    def __init__(
        self,
        directory: Path,
        extra_env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("LOUPE_")}
        env.update({"LOUPE_DEV_AUTH": "1", **(extra_env or {})})
        self.process = subprocess.Popen(
            [str(LOUPE), "serve", *args],
            cwd=directory,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.url: str | None = None
        self._found = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._found.wait(START_TIMEOUT):
            self.process.kill()
            raise AssertionError("no URL printed:\n" + "".join(self.lines[-40:]))

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if (match := URL.search(line)) and self.url is None:
                self.url = match.group(1)
                self._found.set()
        self._found.set()

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        assert self.url is not None, "".join(self.lines[-40:])
        return httpx.get(self.url + path, headers={"X-Loupe-Dev-User": "ana"}, timeout=10, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, body: object) -> httpx.Response:
        assert self.url is not None
        return httpx.post(
            self.url + path, json=body, headers={"X-Loupe-Dev-User": "ana"}, timeout=10
        )


def gone(processes: list[psutil.Process], timeout: float = 20) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return alive
