"""Checks a spec against the Vega-Lite JSON schema that ships with altair.

Used by tests (and available to callers who want it): compiling does not validate, because
validating a spec takes far longer than building it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import altair as alt
import jsonschema  # type: ignore[import-untyped]


@cache
def _validator() -> jsonschema.protocols.Validator:
    major = alt.SCHEMA_VERSION.split(".")[0]
    path = resources.files("altair.vegalite") / major / "schema" / "vega-lite-schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema)


def schema_errors(spec: dict[str, Any]) -> list[str]:
    """Every way ``spec`` breaks the Vega-Lite schema (empty when it is valid)."""
    errors = sorted(_validator().iter_errors(spec), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}" for e in errors]


def validate(spec: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the first problems unless ``spec`` is valid Vega-Lite."""
    errors = schema_errors(spec)
    if errors:
        raise ValueError("not a valid Vega-Lite spec:\n" + "\n".join(errors[:10]))
