"""The Dataset aggregate: a source of data (a CSV's Parquet file, a PostgreSQL table), the
fields it shows, and the calculated columns and measures defined over it.

Dataset events apply in stream order (a dataset is not co-edited offline); the handler
serialises writes with the stream version. Expressions (measures, calculated columns) are
checked by a function the handler passes in (the measure language lives in connectors/), so
this module stays pure.

Names: fields, calculated columns and measures share one namespace, compared
case-insensitively, as in Power BI (``[Sales]`` must mean one thing). A name may not contain
``]`` (it closes a ``[reference]`` in the measure language).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Final
from uuid import UUID

import msgspec

from domain.dataset.events import (
    DATA_CHANGING,
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
    SourceColumnSeen,
)
from domain.dataset.schema import (
    FIELD_ROLES,
    FIELD_TYPES,
    MAX_FORMER_NAMES,
    CalculatedColumn,
    DatasetSchema,
    Field,
    FieldRole,
    FieldType,
    Measure,
)
from domain.errors import AlreadyExists, InvalidCommand, NotFound
from domain.names import clean_name

#: Checks an expression against the dataset as it would be; returns the type it yields.
#: Raises (with the position of the fault) when the expression is not valid.
ExpressionCheck = Callable[[str, DatasetSchema], FieldType]
#: ``rewrite(expression, names, new)``: the expression with its ``[references]`` to any of
#: ``names`` naming ``new`` instead (connectors.measures.references.rename_references).
RenameReferences = Callable[[str, Collection[str], str], str]

MAX_EXPRESSION_LENGTH: Final = 10_000
MAX_FORMAT_LENGTH: Final = 100


class Dataset:
    def __init__(self, dataset_id: UUID) -> None:
        self.id: Final = dataset_id
        self.exists = False
        self.deleted = False
        self.workspace_id: UUID | None = None
        self.name = ""
        self.connector = ""
        self.config: dict[str, Any] = {}
        self.table: str | None = None
        #: The newest data (file-based connectors).
        self.blob: str | None = None
        self.rows: int | None = None
        self.size_bytes: int | None = None
        self.sha256: str | None = None
        self.details: dict[str, Any] = {}
        #: The stream version of the newest event that changes query answers.
        self.data_version = 0
        self.version = 0
        #: source column → field, in source order.
        self._fields: dict[str, Field] = {}
        self._calculated: dict[str, CalculatedColumn] = {}
        self._measures: dict[str, Measure] = {}

    # -- state -------------------------------------------------------------------------------

    @property
    def fields(self) -> tuple[Field, ...]:
        return tuple(self._fields.values())

    @property
    def calculated_columns(self) -> tuple[CalculatedColumn, ...]:
        return tuple(self._calculated.values())

    @property
    def measures(self) -> tuple[Measure, ...]:
        return tuple(self._measures.values())

    def field_by_column(self, column: str) -> Field | None:
        return self._fields.get(column)

    def measure_named(self, name: str) -> Measure | None:
        return self._measures.get(name.casefold())

    def calculated_column_named(self, name: str) -> CalculatedColumn | None:
        return self._calculated.get(name.casefold())

    def schema(self) -> DatasetSchema:
        return DatasetSchema(
            fields=self.fields,
            calculated_columns=self.calculated_columns,
            measures=self.measures,
        )

    def apply(self, event: DatasetEvent, version: int) -> None:  # noqa: C901, PLR0912, PLR0915 - one arm per event
        match event:
            case DatasetCreated():
                if event.dataset_id != self.id:
                    raise ValueError(f"event of dataset {event.dataset_id} applied to {self.id}")
                self.exists = True
                self.workspace_id = event.workspace_id
                self.name = event.name
                self.connector = event.connector
                self.config = dict(event.config)
                self.table = event.table
            case DatasetSchemaInferred():
                self._fields = _merge_columns(self._fields, event.columns)
                if event.rows is not None:
                    self.rows = event.rows
            case DatasetRefreshed():
                if event.blob is not None:
                    self.blob = event.blob
                self.rows = event.rows
                self.size_bytes = event.size_bytes
                self.sha256 = event.sha256
                self.details = dict(event.details)
            case DatasetRenamed():
                self.name = event.name
            case DatasetDeleted():
                self.deleted = True
            case FieldRenamed():
                field = self._fields.get(event.column)
                if field is not None:
                    self._release(field.name, event.name)
                    self._fields[event.column] = _with(
                        field,
                        name=event.name,
                        former_names=_former(field.former_names, field.name, event.name),
                    )
            case FieldRetyped():
                self._replace_field(event.column, type=event.field_type)
            case FieldRoleSet():
                self._replace_field(event.column, role=event.role)
            case FieldHidden():
                self._replace_field(event.column, hidden=True)
            case FieldShown():
                self._replace_field(event.column, hidden=False)
            case MeasureDefined():
                self._measures[event.name.casefold()] = Measure(
                    name=event.name, expression=event.expression, format=event.format
                )
            case MeasureChanged():
                measure = self._measures.pop(event.name.casefold())
                name = event.new_name or event.name
                self._release(measure.name, name)
                self._measures[name.casefold()] = Measure(
                    name=name,
                    expression=event.expression,
                    format=event.format,
                    former_names=_former(measure.former_names, measure.name, name),
                )
            case MeasureRemoved():
                self._measures.pop(event.name.casefold(), None)
            case CalculatedColumnDefined():
                self._calculated[event.name.casefold()] = CalculatedColumn(
                    name=event.name,
                    expression=event.expression,
                    type=event.field_type,
                    role=event.role,
                )
            case CalculatedColumnChanged():
                column = self._calculated.pop(event.name.casefold())
                name = event.new_name or event.name
                self._release(column.name, name)
                self._calculated[name.casefold()] = CalculatedColumn(
                    name=name,
                    expression=event.expression,
                    type=event.field_type,
                    role=event.role,
                    former_names=_former(column.former_names, column.name, name),
                )
            case CalculatedColumnRemoved():
                self._calculated.pop(event.name.casefold(), None)
        self.version = version
        if type(event).__name__ in DATA_CHANGING:
            self.data_version = version

    def _release(self, old: str, new: str) -> None:
        """Before an item is renamed from ``old`` to ``new``: no other item keeps ``old`` as a
        former name (it now points to the item renamed), so each former name has one owner."""
        if old.casefold() == new.casefold():
            return
        folded = old.casefold()

        def holds(item: Field | CalculatedColumn | Measure) -> bool:
            return any(f.casefold() == folded for f in item.former_names)

        def without(names: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(f for f in names if f.casefold() != folded)

        for key, field in self._fields.items():
            if holds(field):
                self._fields[key] = _with(field, former_names=without(field.former_names))
        for key, column in self._calculated.items():
            if holds(column):
                self._calculated[key] = msgspec.structs.replace(
                    column, former_names=without(column.former_names)
                )
        for key, measure in self._measures.items():
            if holds(measure):
                self._measures[key] = msgspec.structs.replace(
                    measure, former_names=without(measure.former_names)
                )

    def _replace_field(self, column: str, **changes: Any) -> None:
        field = self._fields.get(column)
        if field is None:  # the column went away in a later schema; nothing to change
            return
        self._fields[column] = _with(field, **changes)

    # -- decisions ---------------------------------------------------------------------------

    def _require(self) -> None:
        if not self.exists or self.deleted:
            raise NotFound(f"dataset {self.id} does not exist", code="dataset_not_found")

    def create(
        self,
        workspace_id: UUID,
        name: str,
        connector: str,
        config: Mapping[str, Any],
        table: str | None,
    ) -> DatasetCreated:
        if self.exists:
            raise AlreadyExists(f"dataset {self.id} already exists", code="dataset_exists")
        return DatasetCreated(
            dataset_id=self.id,
            workspace_id=workspace_id,
            name=clean_name(name, "dataset"),
            connector=connector,
            config=dict(config),
            table=table,
        )

    def infer_schema(
        self, columns: Iterable[SourceColumnSeen], rows: int | None
    ) -> DatasetSchemaInferred:
        """The source's columns as found now (checked: names non-empty and unique)."""
        if self.deleted:
            self._require()
        seen: set[str] = set()
        checked = []
        for column in columns:
            if not column.column:
                raise InvalidCommand("a source column has no name", code="invalid_schema")
            if column.column in seen:
                raise InvalidCommand(
                    f"the source has two columns named {column.column!r}", code="invalid_schema"
                )
            seen.add(column.column)
            checked.append(column)
        if not checked:
            raise InvalidCommand("the source has no columns", code="invalid_schema")
        return DatasetSchemaInferred(columns=tuple(checked), rows=rows)

    def refresh(
        self,
        *,
        blob: str | None,
        rows: int | None,
        size_bytes: int | None = None,
        sha256: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> DatasetRefreshed:
        return DatasetRefreshed(
            blob=blob, rows=rows, size_bytes=size_bytes, sha256=sha256, details=dict(details or {})
        )

    def rename(self, name: str) -> DatasetRenamed:
        self._require()
        return DatasetRenamed(name=clean_name(name, "dataset"))

    def delete(self) -> DatasetDeleted:
        self._require()
        return DatasetDeleted()

    # fields, by the name people see

    def field_named(self, name: str) -> Field:
        self._require()
        folded = name.casefold()
        for field in self._fields.values():
            if field.name.casefold() == folded:
                return field
        raise NotFound(
            f"dataset {self.name!r} has no field {name!r}"
            + _suggest(name, [f.name for f in self._fields.values()]),
            code="field_not_found",
        )

    def rename_field(self, name: str, new_name: str) -> FieldRenamed:
        field = self.field_named(name)
        cleaned = self._free_name(new_name, "field", keep=field.name)
        return FieldRenamed(column=field.column, name=cleaned)

    def retype_field(self, name: str, field_type: str) -> FieldRetyped:
        field = self.field_named(name)
        return FieldRetyped(column=field.column, field_type=_field_type(field_type))

    def set_field_role(self, name: str, role: str) -> FieldRoleSet:
        field = self.field_named(name)
        return FieldRoleSet(column=field.column, role=_role(role))

    def hide_field(self, name: str) -> FieldHidden:
        return FieldHidden(column=self.field_named(name).column)

    def show_field(self, name: str) -> FieldShown:
        return FieldShown(column=self.field_named(name).column)

    # measures

    def define_measure(
        self, name: str, expression: str, fmt: str | None, check: ExpressionCheck
    ) -> MeasureDefined:
        self._require()
        cleaned = self._free_name(name, "measure")
        text = _expression(expression)
        candidate = Measure(name=cleaned, expression=text, format=_format(fmt))
        check(text, _with_schema(self.schema(), measures=(*self.measures, candidate)))
        return MeasureDefined(name=cleaned, expression=text, format=candidate.format)

    def change_measure(
        self,
        name: str,
        expression: str,
        fmt: str | None,
        new_name: str | None,
        check: ExpressionCheck,
    ) -> MeasureChanged:
        current = self._measure(name)
        renamed = (
            self._free_name(new_name, "measure", keep=current.name) if new_name else current.name
        )
        text = _expression(expression)
        candidate = Measure(name=renamed, expression=text, format=_format(fmt))
        others = tuple(m for m in self.measures if m is not current)
        check(text, _with_schema(self.schema(), measures=(*others, candidate)))
        return MeasureChanged(
            name=current.name,
            expression=text,
            format=candidate.format,
            new_name=renamed if renamed != current.name else None,
        )

    def remove_measure(self, name: str) -> MeasureRemoved:
        return MeasureRemoved(name=self._measure(name).name)

    def _measure(self, name: str) -> Measure:
        self._require()
        measure = self._measures.get(name.casefold())
        if measure is None:
            raise NotFound(
                f"dataset {self.name!r} has no measure {name!r}"
                + _suggest(name, [m.name for m in self.measures]),
                code="measure_not_found",
            )
        return measure

    # calculated columns

    def define_calculated_column(
        self, name: str, expression: str, role: str | None, check: ExpressionCheck
    ) -> CalculatedColumnDefined:
        self._require()
        cleaned = self._free_name(name, "calculated column")
        text = _expression(expression)
        field_type = check(text, self.schema())
        return CalculatedColumnDefined(
            name=cleaned,
            expression=text,
            field_type=field_type,
            role=_role(role) if role else _default_role(field_type),
        )

    def change_calculated_column(
        self,
        name: str,
        expression: str,
        role: str | None,
        new_name: str | None,
        check: ExpressionCheck,
    ) -> CalculatedColumnChanged:
        current = self._calculated_column(name)
        renamed = (
            self._free_name(new_name, "calculated column", keep=current.name)
            if new_name
            else current.name
        )
        text = _expression(expression)
        others = tuple(c for c in self.calculated_columns if c is not current)
        field_type = check(text, _with_schema(self.schema(), calculated_columns=others))
        return CalculatedColumnChanged(
            name=current.name,
            expression=text,
            field_type=field_type,
            role=_role(role) if role else current.role,
            new_name=renamed if renamed != current.name else None,
        )

    def remove_calculated_column(self, name: str) -> CalculatedColumnRemoved:
        return CalculatedColumnRemoved(name=self._calculated_column(name).name)

    def _calculated_column(self, name: str) -> CalculatedColumn:
        self._require()
        column = self._calculated.get(name.casefold())
        if column is None:
            raise NotFound(
                f"dataset {self.name!r} has no calculated column {name!r}"
                + _suggest(name, [c.name for c in self.calculated_columns]),
                code="calculated_column_not_found",
            )
        return column

    # renames reach the expressions

    def references_renamed(
        self, old: str, new: str, rewrite: RenameReferences
    ) -> list[MeasureChanged | CalculatedColumnChanged]:
        """The item called ``old`` is being renamed ``new`` (its event goes first, in the same
        batch): every other measure and calculated column whose expression refers to it,
        rewritten to say ``new``, as Power BI rewrites DAX. References by one of its former
        names that nobody holds now are rewritten too (they lead to it)."""
        schema = self.schema()
        renamed = schema.field(old) or schema.calculated_column(old) or schema.measure(old)
        if renamed is None:
            return []
        taken = schema.names()
        names = {renamed.name, *(f for f in renamed.former_names if f.casefold() not in taken)}
        changes: list[MeasureChanged | CalculatedColumnChanged] = []
        for measure in self.measures:
            if measure is renamed:
                continue
            text = rewrite(measure.expression, names, new)
            if text != measure.expression:
                changes.append(
                    MeasureChanged(name=measure.name, expression=text, format=measure.format)
                )
        for column in self.calculated_columns:
            if column is renamed:
                continue
            text = rewrite(column.expression, names, new)
            if text != column.expression:
                changes.append(
                    CalculatedColumnChanged(
                        name=column.name,
                        expression=text,
                        field_type=column.type,
                        role=column.role,
                    )
                )
        return changes

    def _free_name(self, name: str, what: str, *, keep: str | None = None) -> str:
        """``name`` cleaned, checked not to be taken by another field, column or measure."""
        cleaned = clean_name(name, what)
        if "]" in cleaned:
            raise InvalidCommand(
                f"{what} name {cleaned!r} must not contain ']' (it ends a [reference] in "
                "measure expressions)",
                code="invalid_name",
            )
        taken = self.schema().names()
        if keep is not None:
            taken.discard(keep.casefold())
        if cleaned.casefold() in taken:
            raise AlreadyExists(
                f"dataset {self.name!r} already has a field, calculated column or measure "
                f"named {cleaned!r}",
                code="name_taken",
            )
        return cleaned


def _merge_columns(
    fields: Mapping[str, Field], columns: Iterable[SourceColumnSeen]
) -> dict[str, Field]:
    """Fields for ``columns``: known columns keep what people set (name, type, role, hidden);
    new ones are shown under their own name (made unique if a kept name took it)."""
    merged: dict[str, Field] = {}
    kept = {c.column for c in columns if c.column in fields}
    taken = {fields[c].name.casefold() for c in kept}
    for column in columns:
        old = fields.get(column.column)
        if old is not None:
            retyped = old.type != (old.source_type or old.type)
            merged[column.column] = _with(
                old,
                source_type=column.type if retyped else None,
                type=old.type if retyped else column.type,
            )
            continue
        name = column.column.replace("]", ")")
        base, number = name, 2
        while name.casefold() in taken:
            name = f"{base} ({number})"
            number += 1
        taken.add(name.casefold())
        merged[column.column] = Field(
            name=name, column=column.column, type=column.type, role=column.role
        )
    return merged


def _with(field: Field, **changes: Any) -> Field:
    """``field`` changed; a retype remembers the source's type in ``source_type``."""
    if "type" in changes and "source_type" not in changes:
        source = field.source_type or field.type
        new_type = changes["type"]
        changes["source_type"] = None if new_type == source else source
    values = {
        "name": field.name,
        "column": field.column,
        "type": field.type,
        "role": field.role,
        "hidden": field.hidden,
        "source_type": field.source_type,
        "former_names": field.former_names,
        **changes,
    }
    return Field(**values)


def _former(names: tuple[str, ...], old: str, new: str) -> tuple[str, ...]:
    """An item's former names once it is renamed from ``old`` to ``new``: ``old`` first (unless
    only its case changed), without ``new`` (its name again), at most ``MAX_FORMER_NAMES``."""
    if old.casefold() == new.casefold():
        return names
    drop = {old.casefold(), new.casefold()}
    kept = [f for f in names if f.casefold() not in drop]
    return (old, *kept)[:MAX_FORMER_NAMES]


def _with_schema(schema: DatasetSchema, **changes: Any) -> DatasetSchema:
    values = {
        "fields": schema.fields,
        "calculated_columns": schema.calculated_columns,
        "measures": schema.measures,
        **changes,
    }
    return DatasetSchema(**values)


def _expression(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        raise InvalidCommand("the expression must not be empty", code="invalid_expression")
    if len(stripped) > MAX_EXPRESSION_LENGTH:
        raise InvalidCommand(
            f"the expression must be at most {MAX_EXPRESSION_LENGTH:,} characters",
            code="invalid_expression",
        )
    return stripped


def _format(fmt: str | None) -> str | None:
    if fmt is None or not fmt.strip():
        return None
    if len(fmt) > MAX_FORMAT_LENGTH or any(char < " " for char in fmt):
        raise InvalidCommand(
            f"a format string is at most {MAX_FORMAT_LENGTH} printable characters",
            code="invalid_format",
        )
    return fmt


def _field_type(value: str) -> FieldType:
    for known in FIELD_TYPES:
        if value == known:
            return known
    raise InvalidCommand(
        f"a field type is one of {', '.join(FIELD_TYPES)}; got {value!r}", code="invalid_type"
    )


def _role(value: str) -> FieldRole:
    for known in FIELD_ROLES:
        if value == known:
            return known
    raise InvalidCommand(
        f"a field role is one of {', '.join(FIELD_ROLES)}; got {value!r}", code="invalid_role"
    )


def _default_role(field_type: FieldType) -> FieldRole:
    return "measure" if field_type in ("integer", "decimal") else "dimension"


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


class DatasetSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A dataset's whole state at a version (the read model keeps one per dataset)."""

    id: UUID
    version: int
    data_version: int
    workspace_id: UUID | None
    name: str
    connector: str
    config: dict[str, Any]
    table: str | None
    blob: str | None
    rows: int | None
    size_bytes: int | None
    sha256: str | None
    details: dict[str, Any]
    deleted: bool
    schema: DatasetSchema


def snapshot_of(dataset: Dataset) -> DatasetSnapshot:
    return DatasetSnapshot(
        id=dataset.id,
        version=dataset.version,
        data_version=dataset.data_version,
        workspace_id=dataset.workspace_id,
        name=dataset.name,
        connector=dataset.connector,
        config=dataset.config,
        table=dataset.table,
        blob=dataset.blob,
        rows=dataset.rows,
        size_bytes=dataset.size_bytes,
        sha256=dataset.sha256,
        details=dataset.details,
        deleted=dataset.deleted,
        schema=dataset.schema(),
    )


def restore(snapshot: DatasetSnapshot) -> Dataset:
    dataset = Dataset(snapshot.id)
    dataset.exists = True
    dataset.version = snapshot.version
    dataset.data_version = snapshot.data_version
    dataset.workspace_id = snapshot.workspace_id
    dataset.name = snapshot.name
    dataset.connector = snapshot.connector
    dataset.config = dict(snapshot.config)
    dataset.table = snapshot.table
    dataset.blob = snapshot.blob
    dataset.rows = snapshot.rows
    dataset.size_bytes = snapshot.size_bytes
    dataset.sha256 = snapshot.sha256
    dataset.details = dict(snapshot.details)
    dataset.deleted = snapshot.deleted
    schema = snapshot.schema
    dataset._fields = {f.column: f for f in schema.fields}
    dataset._calculated = {c.name.casefold(): c for c in schema.calculated_columns}  # noqa: SLF001
    dataset._measures = {m.name.casefold(): m for m in schema.measures}  # noqa: SLF001
    return dataset
