"""The Dataset aggregate: its decisions and how its state folds."""

from __future__ import annotations

import uuid

import msgspec
import pytest

from domain.dataset.aggregate import Dataset, restore, snapshot_of
from domain.dataset.events import (
    SourceColumnSeen,
)
from domain.dataset.schema import DatasetSchema, FieldType
from domain.errors import AlreadyExists, InvalidCommand, NotFound
from tests.domain.dataset_histories import fold, made, number

COLUMNS = (
    SourceColumnSeen(column="date", type="date", role="dimension", source_type="DATE"),
    SourceColumnSeen(column="region", type="text", role="dimension", source_type="VARCHAR"),
    SourceColumnSeen(column="sales", type="decimal", role="measure", source_type="DOUBLE"),
)


def _made() -> Dataset:
    return made(COLUMNS)


def test_a_new_dataset_shows_every_source_column_as_a_field() -> None:
    dataset = _made()
    assert dataset.name == "Sales"
    assert [(f.name, f.type, f.role) for f in dataset.fields] == [
        ("date", "date", "dimension"),
        ("region", "text", "dimension"),
        ("sales", "decimal", "measure"),
    ]
    assert dataset.data_version == dataset.version == 2


def test_a_dataset_cannot_be_created_twice() -> None:
    dataset = _made()
    with pytest.raises(AlreadyExists):
        dataset.create(uuid.uuid4(), "Again", "csv", {}, None)


def test_renamed_fields_keep_their_names_across_a_refresh_with_a_new_column() -> None:
    dataset = _made()
    fold(dataset, dataset.rename_field("region", "Region"))
    fold(dataset, dataset.retype_field("sales", "integer"))
    more = (*COLUMNS, SourceColumnSeen(column="Region", type="text", role="dimension"))
    fold(dataset, dataset.infer_schema(more, 11))
    names = [f.name for f in dataset.fields]
    # The new source column "Region" may not take the name a kept field has.
    assert names == ["date", "Region", "sales", "Region (2)"]
    sales = dataset.field_named("sales")
    assert (sales.type, sales.source_type) == ("integer", "decimal")


def test_a_column_gone_from_the_source_takes_its_field_along() -> None:
    dataset = _made()
    fold(dataset, dataset.infer_schema(COLUMNS[:2], 3))
    assert [f.column for f in dataset.fields] == ["date", "region"]
    with pytest.raises(NotFound, match="no field 'sales'"):
        dataset.field_named("sales")


def test_retyping_back_to_the_source_type_forgets_the_source_type() -> None:
    dataset = _made()
    fold(dataset, dataset.retype_field("sales", "integer"))
    fold(dataset, dataset.retype_field("sales", "decimal"))
    assert dataset.field_named("sales").source_type is None


def test_names_are_shared_by_fields_calculated_columns_and_measures() -> None:
    dataset = _made()
    with pytest.raises(AlreadyExists, match="SALES"):
        dataset.define_measure("SALES", "SUM([sales])", None, number)
    fold(dataset, dataset.define_measure("Total", "SUM([sales])", "#,0", number))
    with pytest.raises(AlreadyExists):
        dataset.define_calculated_column("total", "[sales] * 2", None, number)
    with pytest.raises(AlreadyExists):
        dataset.rename_field("region", "TOTAL")


def test_a_name_with_a_closing_bracket_is_refused() -> None:
    dataset = _made()
    with pytest.raises(InvalidCommand, match=r"must not contain '\]'"):
        dataset.define_measure("a]b", "1", None, number)


def test_a_measure_is_checked_against_the_schema_it_will_live_in() -> None:
    dataset = _made()
    seen: list[DatasetSchema] = []

    def check(text: str, schema: DatasetSchema) -> FieldType:
        seen.append(schema)
        assert text == "SUM([sales])"
        return "decimal"

    dataset.define_measure("Total", "  SUM([sales]) ", None, check)
    assert seen[0].measure("total") is not None  # it may refer to itself: the check finds cycles


def test_a_refused_expression_appends_nothing() -> None:
    dataset = _made()

    def refuse(_text: str, _schema: DatasetSchema) -> FieldType:
        raise InvalidCommand("unknown field [nope] at line 1, column 5")

    with pytest.raises(InvalidCommand, match="line 1, column 5"):
        dataset.define_measure("Bad", "SUM([nope])", None, refuse)
    assert dataset.measures == ()


def test_changing_a_measure_can_rename_it() -> None:
    dataset = _made()
    fold(dataset, dataset.define_measure("Total", "SUM([sales])", None, number))
    fold(dataset, dataset.change_measure("total", "SUM([sales]) * 2", "0.0", "Double", number))
    assert [(m.name, m.expression, m.format) for m in dataset.measures] == [
        ("Double", "SUM([sales]) * 2", "0.0")
    ]
    fold(dataset, dataset.remove_measure("DOUBLE"))
    assert dataset.measures == ()


def test_a_calculated_column_takes_the_type_its_expression_yields() -> None:
    dataset = _made()
    fold(dataset, dataset.define_calculated_column("Net", "[sales] * 0.8", None, number))
    (column,) = dataset.calculated_columns
    assert (column.type, column.role) == ("decimal", "measure")


def test_only_data_changing_events_move_the_data_version() -> None:
    dataset = _made()
    before = dataset.data_version
    fold(dataset, dataset.set_field_role("sales", "dimension"))
    fold(dataset, dataset.rename("Renamed"))
    assert dataset.data_version == before
    assert dataset.version == before + 2
    fold(dataset, dataset.hide_field("date"))
    assert dataset.data_version == dataset.version


def test_a_deleted_dataset_refuses_changes() -> None:
    dataset = _made()
    fold(dataset, dataset.delete())
    with pytest.raises(NotFound):
        dataset.rename_field("region", "Area")


def test_a_snapshot_restores_the_same_dataset() -> None:
    dataset = _made()
    fold(
        dataset,
        dataset.rename_field("region", "Region"),
        dataset.define_measure("Total", "SUM([sales])", None, number),
    )
    fold(dataset, dataset.define_calculated_column("Net", "[sales] * 0.8", None, number))
    snapshot = snapshot_of(dataset)
    copy = restore(msgspec.json.decode(msgspec.json.encode(snapshot), type=type(snapshot)))
    assert snapshot_of(copy) == snapshot
    assert copy.field_named("REGION").column == "region"


def test_unknown_types_and_roles_are_refused_with_the_allowed_values() -> None:
    dataset = _made()
    with pytest.raises(InvalidCommand, match="integer, decimal"):
        dataset.retype_field("sales", "money")
    with pytest.raises(InvalidCommand, match="dimension, measure"):
        dataset.set_field_role("sales", "metric")


def test_a_misspelt_field_gets_a_suggestion() -> None:
    dataset = _made()
    with pytest.raises(NotFound, match="did you mean 'region'"):
        dataset.field_named("regoin")
