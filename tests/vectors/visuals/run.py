"""Runs a visual vector through the Python compiler: its query plan, and its spec from the
vector's own answers (see README.md)."""

from __future__ import annotations

import json
from typing import Any

from charts.compiler import compile_visual
from charts.query import QueryPlan, query_for


def plan_of(vector: dict[str, Any]) -> QueryPlan | None:
    filters = vector["filters"]
    return query_for(
        vector["visual"],
        filters=[*filters["report"], *filters["page"]],
        dataset_fields=vector["dataset_fields"],
    )


def spec_of(vector: dict[str, Any], plan: QueryPlan | None) -> dict[str, Any]:
    """The spec compiled from the vector's answers, as JSON gives it back."""
    size = vector["size"]
    totals = [t["result"] for t in vector.get("totals", [])]
    spec = compile_visual(
        vector["visual"],
        vector["result"],
        plan=plan,
        theme=vector["theme"],
        width=size["width"],
        height=size["height"],
        totals=totals,
    )
    return json.loads(json.dumps(spec))


def queries_of(plan: QueryPlan | None) -> dict[str, Any]:
    """The vector's ``query`` and ``totals`` queries for ``plan``."""
    if plan is None:
        return {"query": None}
    found: dict[str, Any] = {"query": plan.spec}
    if plan.totals:
        found["totals"] = [{"name": t.name, "query": t.spec} for t in plan.totals]
    return json.loads(json.dumps(found))
