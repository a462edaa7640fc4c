"""The shared visual vectors (tests/vectors/visuals/*.json) still hold: the web app's compiler
is held to the same queries and specs, and every spec is valid Vega-Lite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from charts.validation import schema_errors
from domain.report.visuals import VISUAL_TYPES
from tests.vectors.visuals.run import plan_of, queries_of, spec_of

FOLDER = Path(__file__).resolve().parents[1] / "vectors" / "visuals"
VECTORS = sorted(FOLDER.glob("*.json"))


def test_the_vectors_cover_every_visual_type() -> None:
    assert 40 <= len(VECTORS) <= 60
    types = {json.loads(p.read_text())["visual"]["visual_type"] for p in VECTORS}
    assert types == set(VISUAL_TYPES)


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_the_compiler_gives_each_vectors_query_and_spec(path: Path) -> None:
    vector = json.loads(path.read_text())
    plan = plan_of(vector)
    queries = queries_of(plan)
    assert queries["query"] == vector["query"]
    assert queries.get("totals", []) == [
        {"name": t["name"], "query": t["query"]} for t in vector.get("totals", [])
    ]
    assert spec_of(vector, plan) == vector["spec"]
    assert schema_errors(vector["spec"]) == []
