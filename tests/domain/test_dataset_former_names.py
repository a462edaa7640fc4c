"""A renamed field, calculated column or measure answers to its former names, so that the
visuals and expressions written before the rename keep working; a name in use now always
means the item that has it."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.dataset.aggregate import Dataset, restore, snapshot_of
from domain.dataset.events import SourceColumnSeen
from domain.dataset.schema import MAX_FORMER_NAMES
from domain.errors import DomainError
from tests.domain.dataset_histories import fold, made, number

COLUMNS = (
    SourceColumnSeen(column="region", type="text", role="dimension"),
    SourceColumnSeen(column="amount", type="decimal", role="measure"),
    SourceColumnSeen(column="qty", type="integer", role="measure"),
)


def _made() -> Dataset:
    return made(COLUMNS)


def test_a_renamed_field_answers_to_its_former_name_in_any_case() -> None:
    dataset = _made()
    fold(dataset, dataset.rename_field("amount", "Sales amount"))
    schema = dataset.schema()
    for name in ("amount", "AMOUNT", "Sales amount"):
        found = schema.field(name)
        assert found is not None
        assert (found.name, found.column) == ("Sales amount", "amount")
    assert schema.field("amount").former_names == ("amount",)  # type: ignore[union-attr]


def test_a_former_name_taken_again_means_the_item_that_took_it() -> None:
    dataset = _made()
    fold(dataset, dataset.rename_field("amount", "Revenue"))
    fold(dataset, dataset.define_measure("amount", "SUM([Revenue])", None, number))
    schema = dataset.schema()
    assert schema.field("amount") is None
    measure = schema.measure("amount")
    assert measure is not None
    assert measure.expression == "SUM([Revenue])"


def test_a_former_name_belongs_to_the_item_renamed_from_it_last() -> None:
    dataset = _made()
    fold(dataset, dataset.rename_field("amount", "Revenue"))  # amount → the amount column
    fold(dataset, dataset.rename_field("qty", "amount"))
    fold(dataset, dataset.rename_field("amount", "Units"))  # amount → the qty column now
    schema = dataset.schema()
    assert schema.field("amount").column == "qty"  # type: ignore[union-attr]
    assert schema.field("Revenue").former_names == ()  # type: ignore[union-attr]
    assert schema.field("qty").column == "qty"  # type: ignore[union-attr]


def test_renamed_measures_and_calculated_columns_keep_their_former_names_when_changed() -> None:
    dataset = _made()
    fold(dataset, dataset.define_measure("Total", "SUM([amount])", None, number))
    fold(dataset, dataset.define_calculated_column("Net", "[amount] * 0.8", None, number))
    fold(dataset, dataset.change_measure("Total", "SUM([amount])", None, "Total sales", number))
    fold(dataset, dataset.change_measure("Total sales", "SUM([amount]) * 2", "0.0", None, number))
    fold(
        dataset,
        dataset.change_calculated_column("Net", "[amount] * 0.7", None, "Net sales", number),
    )
    schema = dataset.schema()
    measure = schema.measure("total")
    assert measure is not None
    assert (measure.name, measure.expression, measure.former_names) == (
        "Total sales",
        "SUM([amount]) * 2",
        ("Total",),
    )
    column = schema.calculated_column("NET")
    assert column is not None
    assert (column.name, column.former_names) == ("Net sales", ("Net",))


def test_renaming_back_and_forth_keeps_a_short_list_without_the_current_name() -> None:
    dataset = _made()
    for index in range(MAX_FORMER_NAMES + 3):
        fold(dataset, dataset.rename_field(dataset.fields[1].name, f"Amount {index}"))
    fold(dataset, dataset.rename_field(dataset.fields[1].name, "Amount 4"))
    field = dataset.fields[1]
    assert field.name == "Amount 4"
    assert len(field.former_names) == MAX_FORMER_NAMES
    assert "Amount 4" not in field.former_names
    assert field.former_names[0] == f"Amount {MAX_FORMER_NAMES + 2}"


def test_former_names_survive_a_snapshot() -> None:
    dataset = _made()
    fold(dataset, dataset.rename_field("amount", "Revenue"))
    fold(dataset, dataset.define_measure("Total", "SUM([Revenue])", None, number))
    fold(dataset, dataset.change_measure("Total", "SUM([Revenue])", None, "Sum", number))
    snapshot = snapshot_of(dataset)
    copy = restore(msgspec.json.decode(msgspec.json.encode(snapshot), type=type(snapshot)))
    assert snapshot_of(copy) == snapshot
    assert copy.schema().field("amount").name == "Revenue"  # type: ignore[union-attr]
    assert copy.schema().measure("total").name == "Sum"  # type: ignore[union-attr]


# -- any history of renames --------------------------------------------------------------------

NAMES = ("region", "amount", "qty", "Revenue", "Units", "Total", "Net")
Step = tuple[str, int, str]  # (kind, which item, new name)
steps = st.lists(
    st.tuples(
        st.sampled_from(("field", "measure", "define")),
        st.integers(min_value=0, max_value=5),
        st.sampled_from(NAMES),
    ),
    max_size=25,
)


def _replay(history: list[Step]) -> tuple[Dataset, dict[str, str], dict[str, int]]:
    """Apply the steps that the aggregate accepts; also follow, by hand, which item each name
    should lead to: the item that has it now, else the item renamed away from it last."""
    dataset = _made()
    leads_to: dict[str, str] = {}  # folded name → item key ("f:<column>" or "m:<id>")
    ids: dict[str, int] = {}  # measure name (folded) → id
    next_id = 0
    for kind, which, new in history:
        measures = dataset.measures
        try:
            if kind == "field":
                field = dataset.fields[which % len(dataset.fields)]
                old, key = field.name, f"f:{field.column}"
                fold(dataset, dataset.rename_field(old, new))
            elif kind == "measure" and measures:
                measure = measures[which % len(measures)]
                old = measure.name
                key = f"m:{ids[old.casefold()]}"
                fold(dataset, dataset.change_measure(old, "1", None, new, number))
                ids[new.casefold()] = ids.pop(old.casefold())
            elif kind == "define":
                fold(dataset, dataset.define_measure(new, "1", None, number))
                ids[new.casefold()] = next_id
                next_id += 1
                continue
            else:
                continue
        except DomainError:
            continue  # refused (a name in use): nothing happened
        if old.casefold() != new.casefold():
            leads_to[old.casefold()] = key
    return dataset, leads_to, ids


@settings(max_examples=200, deadline=None)
@given(steps)
def test_every_name_leads_to_the_item_that_has_it_or_last_had_it(history: list[Step]) -> None:
    dataset, leads_to, ids = _replay(history)
    schema = dataset.schema()
    current = schema.names()
    for name in NAMES:
        folded = name.casefold()
        field, measure = schema.field(name), schema.measure(name)
        found = field or measure
        if folded in current:
            assert found is not None
            assert found.name.casefold() == folded
        elif folded in leads_to:
            expected = leads_to[folded]
            if expected.startswith("f:"):
                assert field is not None
                assert field.column == expected[2:]
            else:
                assert measure is not None
                assert f"m:{ids[measure.name.casefold()]}" == expected
        else:
            assert found is None
    # A former name has one owner, and is never an item's own name.
    owners: dict[str, int] = {}
    for item in (*schema.fields, *schema.measures):
        assert item.name.casefold() not in {f.casefold() for f in item.former_names}
        for former in item.former_names:
            owners[former.casefold()] = owners.get(former.casefold(), 0) + 1
    assert all(count == 1 for count in owners.values())
