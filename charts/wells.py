"""The fields bound in a visual's wells, read forgivingly from the report document.

The document (``GET /reports/{id}``) lists every bound field in display order, even when
concurrent edits left more than a well takes: the compiler uses the first ``max_fields``, as
domain/report/visuals.py says. A field the dataset no longer has (renamed or removed since) is
skipped with a warning rather than failing the whole visual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from charts.fields import DatasetField, FieldIndex
from domain.report.visuals import AGGREGATIONS, VisualSpec


class Binding(msgspec.Struct, frozen=True, kw_only=True):
    """One field in one well: the dataset's field and the aggregation the user chose."""

    well: str
    index: int
    field: DatasetField
    aggregation: str | None


def bindings(
    visual: Mapping[str, Any], spec: VisualSpec, fields: FieldIndex, warnings: list[str]
) -> dict[str, list[Binding]]:
    """Every well of the visual type with its usable bindings, in display order."""
    wells = visual.get("wells")
    wells = wells if isinstance(wells, Mapping) else {}
    result: dict[str, list[Binding]] = {}
    for well in spec.wells:
        entries = wells.get(well.name)
        entries = entries if isinstance(entries, list) else []
        if well.max_fields is not None and len(entries) > well.max_fields:
            entries = entries[: well.max_fields]
        usable: list[Binding] = []
        for entry in entries:
            binding = _binding(entry, well.name, len(usable), fields, warnings)
            if binding is not None:
                usable.append(binding)
        result[well.name] = usable
    return result


def _binding(
    entry: object, well: str, index: int, fields: FieldIndex, warnings: list[str]
) -> Binding | None:
    if not isinstance(entry, Mapping):
        warnings.append(f"well {well}: an entry is not a field binding")
        return None
    name = entry.get("field")
    field = fields.get(name)
    if field is None:
        warnings.append(f"well {well}: the dataset has no field {name!r}")
        return None
    aggregation = entry.get("aggregation")
    if aggregation is not None and aggregation not in AGGREGATIONS:
        warnings.append(f"well {well}: unknown aggregation {aggregation!r} of {field.name!r}")
        aggregation = None
    return Binding(well=well, index=index, field=field, aggregation=aggregation)
