"""The shared query vectors (tests/vectors/queries/*.json) still hold: the web app's compiler
will be held to the same answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.connectors.query_support import same_rows
from tests.vectors.queries.run import answer

VECTORS = sorted((Path(__file__).resolve().parents[1] / "vectors" / "queries").glob("*.json"))


def test_there_are_vectors_for_every_kind_of_query() -> None:
    assert len(VECTORS) >= 12


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_the_compiler_answers_each_vector(path: Path, tmp_path: Path) -> None:
    vector = json.loads(path.read_text())
    got = answer(vector, tmp_path)
    assert got["columns"] == vector["expected"]["columns"]
    assert same_rows(
        [tuple(r) for r in got["rows"]], [tuple(r) for r in vector["expected"]["rows"]]
    )
