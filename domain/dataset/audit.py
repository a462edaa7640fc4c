"""Audit descriptions of dataset events, worded like the report's (``domain.report.audit``):
"Ana defined the measure 'Rainy share' on 'Seattle weather'".

``describe_dataset_event(event, before, actor_name)`` reads the dataset just BEFORE the event
is applied. Every description's object id is the dataset's id (the `GET /audit?object=`
filter finds all of a dataset's history); ``object_type`` says what in it changed.
"""

from __future__ import annotations

from typing import Any

from domain.dataset.aggregate import Dataset
from domain.dataset.events import (
    CalculatedColumnChanged,
    CalculatedColumnDefined,
    CalculatedColumnRemoved,
    DatasetCreated,
    DatasetDeleted,
    DatasetEvent,
    DatasetRefreshed,
    DatasetRenamed,
    DatasetSchemaInferred,
    FieldHidden,
    FieldRenamed,
    FieldRetyped,
    FieldRoleSet,
    FieldShown,
    MeasureChanged,
    MeasureDefined,
    MeasureRemoved,
)
from domain.report.audit import AuditDescription, ObjectType, actor, change_of, quoted, shorten

#: Expressions are quoted in summaries up to this many characters (the change has them whole).
EXPRESSION_IN_SUMMARY = 80
#: Column names listed in a summary before "and N more".
COLUMNS_IN_SUMMARY = 5


def describe_dataset_event(  # noqa: C901, PLR0911, PLR0912 - one arm per event
    event: DatasetEvent, before: Dataset, actor_name: str
) -> AuditDescription:
    """What ``event`` did to ``before`` (the dataset just before it is applied)."""
    d = _Describer(before, actor(actor_name))
    match event:
        case DatasetCreated():
            return d.created(event)
        case DatasetSchemaInferred():
            return d.schema(event)
        case DatasetRefreshed():
            return d.refreshed(event)
        case DatasetRenamed():
            return d.said(
                "dataset",
                f"renamed the dataset {d.name} to {quoted(event.name)}",
                {"name": change_of(before.name, event.name)},
            )
        case DatasetDeleted():
            return d.said(
                "dataset",
                f"deleted the dataset {d.name}",
                {"deleted": change_of(before=False, after=True)},
            )
        case FieldRenamed():
            old = d.field_name(event.column)
            return d.said(
                "field",
                f"renamed the field {quoted(old)} of {d.name} to {quoted(event.name)}",
                {"field": event.column, "name": change_of(old, event.name)},
            )
        case FieldRetyped():
            field = before.field_by_column(event.column)
            old_type = field.type if field else None
            return d.said(
                "field",
                f"changed the type of {quoted(d.field_name(event.column))} in {d.name} "
                f"from {old_type or 'unknown'} to {event.field_type}",
                {"field": event.column, "type": change_of(old_type, event.field_type)},
            )
        case FieldRoleSet():
            field = before.field_by_column(event.column)
            return d.said(
                "field",
                f"made {quoted(d.field_name(event.column))} in {d.name} a {event.role}",
                {
                    "field": event.column,
                    "role": change_of(field.role if field else None, event.role),
                },
            )
        case FieldHidden() | FieldShown():
            hidden = isinstance(event, FieldHidden)
            verb = "hid" if hidden else "showed"
            return d.said(
                "field",
                f"{verb} the field {quoted(d.field_name(event.column))} in {d.name}",
                {"field": event.column, "hidden": change_of(not hidden, hidden)},
            )
        case MeasureDefined():
            return d.said(
                "measure",
                f"defined the measure {quoted(event.name)} on {d.name}: {_expr(event.expression)}",
                {
                    "measure": event.name,
                    "expression": change_of(None, event.expression, had_before=False),
                },
            )
        case MeasureChanged():
            measure = before.measure_named(event.name)
            return d.changed(
                "measure",
                event.name,
                event.new_name,
                measure.expression if measure else None,
                event.expression,
            )
        case MeasureRemoved():
            gone = before.measure_named(event.name)
            return d.said(
                "measure",
                f"removed the measure {quoted(event.name)} from {d.name}",
                {
                    "measure": event.name,
                    "expression": change_of(gone.expression if gone else None, None),
                },
            )
        case CalculatedColumnDefined():
            return d.said(
                "calculated_column",
                f"defined the calculated column {quoted(event.name)} on {d.name}: "
                f"{_expr(event.expression)}",
                {
                    "calculated_column": event.name,
                    "expression": change_of(None, event.expression, had_before=False),
                    "type": change_of(None, event.field_type, had_before=False),
                },
            )
        case CalculatedColumnChanged():
            old_column = before.calculated_column_named(event.name)
            return d.changed(
                "calculated_column",
                event.name,
                event.new_name,
                old_column.expression if old_column else None,
                event.expression,
            )
        case CalculatedColumnRemoved():
            return d.said(
                "calculated_column",
                f"removed the calculated column {quoted(event.name)} from {d.name}",
                {"calculated_column": event.name},
            )


class _Describer:
    def __init__(self, dataset: Dataset, who: str) -> None:
        self.dataset = dataset
        self.who = who
        self.name = quoted(dataset.name) if dataset.name else "the dataset"

    def said(
        self, object_type: ObjectType, summary: str, change: dict[str, Any]
    ) -> AuditDescription:
        return AuditDescription(
            object_type=object_type,
            object_id=str(self.dataset.id),
            summary=f"{self.who} {summary}",
            change=change,
        )

    def field_name(self, column: str) -> str:
        field = self.dataset.field_by_column(column)
        return field.name if field is not None else column

    def created(self, event: DatasetCreated) -> AuditDescription:
        name = quoted(event.name)
        if event.connector == "csv":
            summary = f"uploaded the dataset {name}"
        else:
            where = f" table {shorten(event.table, 80)}" if event.table else ""
            summary = f"connected the dataset {name} to a {shorten(event.connector, 40)}{where}"
        change = {
            "name": change_of(None, event.name, had_before=False),
            "connector": change_of(None, event.connector, had_before=False),
        }
        return self.said("dataset", summary, change)

    def schema(self, event: DatasetSchemaInferred) -> AuditDescription:
        new = [c.column for c in event.columns]
        old = [f.column for f in self.dataset.fields]
        rows = f" ({event.rows:,} rows)" if event.rows is not None else ""
        if not old:
            summary = f"read {len(new)} columns of {self.name}{rows}: {_names(new)}"
        else:
            added = [c for c in new if c not in old]
            removed = [c for c in old if c not in new]
            parts = [f"added {_names(added)}"] if added else []
            parts += [f"removed {_names(removed)}"] if removed else []
            summary = f"read the columns of {self.name} again{rows}: " + (
                "; ".join(parts) if parts else "no change"
            )
        change = {"columns": change_of(old or None, new, had_before=bool(old))}
        return self.said("dataset", summary, change)

    def refreshed(self, event: DatasetRefreshed) -> AuditDescription:
        rows = f" ({event.rows:,} rows)" if event.rows is not None else ""
        first = self.dataset.blob is None and event.blob is not None
        if first:
            summary = f"stored the data of {self.name}{rows}"
        elif event.blob is not None:
            summary = f"uploaded new data for {self.name}{rows}"
        else:
            summary = f"refreshed {self.name} from its source{rows}"
        change = {
            "rows": change_of(
                self.dataset.rows, event.rows, had_before=self.dataset.rows is not None
            )
        }
        if event.sha256:
            change["sha256"] = change_of(self.dataset.sha256, event.sha256, had_before=not first)
        return self.said("dataset", summary, change)

    def changed(
        self,
        object_type: ObjectType,
        name: str,
        new_name: str | None,
        old_expression: str | None,
        expression: str,
    ) -> AuditDescription:
        what = "measure" if object_type == "measure" else "calculated column"
        renamed = f" and renamed it to {quoted(new_name)}" if new_name else ""
        summary = f"changed the {what} {quoted(name)} on {self.name}{renamed}: {_expr(expression)}"
        change: dict[str, Any] = {
            object_type: name,
            "expression": change_of(
                old_expression, expression, had_before=old_expression is not None
            ),
        }
        if new_name:
            change["name"] = change_of(name, new_name)
        return self.said(object_type, summary, change)


def _expr(expression: str) -> str:
    return shorten(expression, EXPRESSION_IN_SUMMARY)


def _names(columns: list[str]) -> str:
    shown = ", ".join(quoted(c, 40) for c in columns[:COLUMNS_IN_SUMMARY])
    more = len(columns) - COLUMNS_IN_SUMMARY
    return shown + (f" and {more} more" if more > 0 else "")
