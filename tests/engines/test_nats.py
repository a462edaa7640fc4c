"""The embedded NATS server, with JetStream, on a free port of 127.0.0.1."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import nats
import pytest
from engine_helpers import STANDARD_PORTS, nats_roundtrip, wait_gone

from api.engines import EmbeddedNats, EngineError

if TYPE_CHECKING:
    from pathlib import Path


async def test_starts_answers_and_stops(data_dir: Path) -> None:
    engine = EmbeddedNats(data_dir / "nats")
    engine.start()
    try:
        assert engine.url.startswith("nats://127.0.0.1:")
        assert engine.port not in STANDARD_PORTS
        pid = engine.pid
        assert pid is not None
        assert await nats_roundtrip(engine.url) == b"hello"
        nc = await nats.connect(engine.url)
        try:
            await nc.jetstream().add_stream(name="T", subjects=["t.>"])
            await nc.jetstream().publish("t.x", b"1")
        finally:
            await nc.close()
        assert (data_dir / "nats" / "jetstream").is_dir()
    finally:
        engine.stop()
    assert engine.pid is None
    assert wait_gone([pid], timeout=5) == []
    engine.stop()  # idempotent


class _FirstPortBusy(EmbeddedNats):
    """Hands out a port somebody else already listens on, then free ones."""

    def __init__(self, data_dir: Path, busy: int) -> None:
        super().__init__(data_dir)
        self.offered: list[int] = []
        self._busy = busy

    def _pick_port(self) -> int:
        port = self._busy if not self.offered else super()._pick_port()
        self.offered.append(port)
        return port


async def test_retries_on_another_port_when_the_port_is_taken(data_dir: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        engine = _FirstPortBusy(data_dir / "nats", busy)
        engine.start()
        try:
            assert engine.offered[0] == busy
            assert engine.port != busy
            assert await nats_roundtrip(engine.url) == b"hello"
        finally:
            engine.stop()


def test_a_failed_start_quotes_the_log(data_dir: Path) -> None:
    (data_dir / "nats").mkdir()
    (data_dir / "nats" / "jetstream").write_text("not a directory")
    engine = EmbeddedNats(data_dir / "nats")
    with pytest.raises(EngineError, match="storage directory is not a directory") as err:
        engine.start()
    assert "nats.log" in str(err.value)
    assert engine.pid is None
