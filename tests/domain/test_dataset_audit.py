"""Dataset events in the audit log's words."""

from __future__ import annotations

import uuid

from domain.dataset.aggregate import Dataset
from domain.dataset.audit import describe_dataset_event
from domain.dataset.events import SourceColumnSeen
from domain.dataset.schema import DatasetSchema, FieldType

COLUMNS = (
    SourceColumnSeen(column="date", type="date", role="dimension"),
    SourceColumnSeen(column="weather", type="text", role="dimension"),
    SourceColumnSeen(column="wind", type="decimal", role="measure"),
)


def _number(_text: str, _schema: DatasetSchema) -> FieldType:
    return "decimal"


def _history() -> list[str]:
    """The summary of each event of one dataset's life, described before it is applied."""
    dataset = Dataset(uuid.uuid4())
    said: list[str] = []
    steps = [
        lambda d: d.create(uuid.uuid4(), "Seattle weather", "csv", {}, None),
        lambda d: d.infer_schema(COLUMNS, 1461),
        lambda d: d.refresh(blob="b1", rows=1461, sha256="aa"),
        lambda d: d.rename_field("weather", "Sky"),
        lambda d: d.retype_field("wind", "integer"),
        lambda d: d.set_field_role("wind", "dimension"),
        lambda d: d.hide_field("date"),
        lambda d: d.show_field("date"),
        lambda d: d.define_measure("Windy", "MAX([wind])", None, _number),
        lambda d: d.change_measure("Windy", "AVERAGE([wind])", None, "Breezy", _number),
        lambda d: d.remove_measure("Breezy"),
        lambda d: d.define_calculated_column("Gust", "[wind] * 2", None, _number),
        lambda d: d.change_calculated_column("Gust", "[wind] * 3", None, None, _number),
        lambda d: d.remove_calculated_column("Gust"),
        lambda d: d.infer_schema(
            (*COLUMNS[:2], SourceColumnSeen(column="rain", type="decimal", role="measure")), 10
        ),
        lambda d: d.refresh(blob="b2", rows=10, sha256="bb"),
        lambda d: d.rename("Weather"),
        lambda d: d.delete(),
    ]
    for step in steps:
        event = step(dataset)
        said.append(describe_dataset_event(event, dataset, "Ana").summary)
        dataset.apply(event, dataset.version + 1)
    return said


def test_every_dataset_event_reads_as_a_sentence() -> None:
    assert _history() == [
        "Ana uploaded the dataset 'Seattle weather'",
        "Ana read 3 columns of 'Seattle weather' (1,461 rows): 'date', 'weather', 'wind'",
        "Ana stored the data of 'Seattle weather' (1,461 rows)",
        "Ana renamed the field 'weather' of 'Seattle weather' to 'Sky'",
        "Ana changed the type of 'wind' in 'Seattle weather' from decimal to integer",
        "Ana made 'wind' in 'Seattle weather' a dimension",
        "Ana hid the field 'date' in 'Seattle weather'",
        "Ana showed the field 'date' in 'Seattle weather'",
        "Ana defined the measure 'Windy' on 'Seattle weather': MAX([wind])",
        (
            "Ana changed the measure 'Windy' on 'Seattle weather' and renamed it to 'Breezy': "
            "AVERAGE([wind])"
        ),
        "Ana removed the measure 'Breezy' from 'Seattle weather'",
        "Ana defined the calculated column 'Gust' on 'Seattle weather': [wind] * 2",
        "Ana changed the calculated column 'Gust' on 'Seattle weather': [wind] * 3",
        "Ana removed the calculated column 'Gust' from 'Seattle weather'",
        "Ana read the columns of 'Seattle weather' again (10 rows): added 'rain'; removed 'wind'",
        "Ana uploaded new data for 'Seattle weather' (10 rows)",
        "Ana renamed the dataset 'Seattle weather' to 'Weather'",
        "Ana deleted the dataset 'Weather'",
    ]


def test_a_change_carries_the_value_it_replaced() -> None:
    dataset = Dataset(uuid.uuid4())
    dataset.apply(dataset.create(uuid.uuid4(), "D", "postgres", {}, "public.orders"), 1)
    dataset.apply(dataset.infer_schema(COLUMNS, None), 2)
    dataset.apply(dataset.define_measure("M", "SUM([wind])", None, _number), 3)
    event = dataset.change_measure("M", "MAX([wind])", None, None, _number)
    described = describe_dataset_event(event, dataset, "Ana")
    assert described.change["expression"] == {"before": "SUM([wind])", "after": "MAX([wind])"}
    assert described.object_type == "measure"
    assert described.object_id == str(dataset.id)
    created = describe_dataset_event(
        Dataset(dataset.id).create(uuid.uuid4(), "D", "postgres", {}, "public.orders"),
        Dataset(dataset.id),
        "Ana",
    )
    assert created.summary == "Ana connected the dataset 'D' to a postgres table public.orders"
