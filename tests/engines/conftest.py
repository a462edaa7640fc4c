"""Fixtures for the embedded-engine tests."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A fresh directory for engine data, like ``tmp_path`` but not under pytest's temp root.

    As root, PostgreSQL runs as ``loupe-postgres``, which must be able to traverse every
    directory above its data. pytest resets ``/tmp/pytest-of-<user>`` to mode 0700 whenever a
    session starts, so another pytest session starting on the same machine would lock the
    server out of a ``tmp_path`` mid-test. A directory of our own directly under the
    world-traversable temp dir has no such neighbour.
    """
    path = Path(tempfile.mkdtemp(prefix="loupe-engines-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
