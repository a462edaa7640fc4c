"""What the Dataset aggregate's tests share: folding events as the store hands them back, a
dataset made from source columns, and an expression check that accepts anything."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from domain.dataset.aggregate import Dataset
from domain.dataset.events import DatasetEvent, SourceColumnSeen, decode, encode
from domain.dataset.schema import DatasetSchema, FieldType


def fold(dataset: Dataset, *events: DatasetEvent) -> Dataset:
    for event in events:
        # Every event goes through its stored form, as it does in the store.
        dataset.apply(decode(encode(event)), dataset.version + 1)
    return dataset


def made(columns: Iterable[SourceColumnSeen]) -> Dataset:
    """A CSV dataset " Sales " (cleaned to "Sales") whose source has ``columns``."""
    dataset = Dataset(uuid.uuid4())
    created = dataset.create(uuid.uuid4(), " Sales ", "csv", {"blob": "b"}, None)
    fold(dataset, created)
    return fold(dataset, dataset.infer_schema(columns, 10))


def number(_text: str, _schema: DatasetSchema) -> FieldType:
    """An expression check that finds every expression valid, yielding a decimal."""
    return "decimal"
