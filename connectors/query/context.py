"""The filter context an aggregate is evaluated in, as CALCULATE changed it.

The starting context of a result row is "the query's filters + the row's dimension values".
A `Context` records what CALCULATE did to it, in DAX's terms:

- ``clear_all``: ALL(table) / REMOVEFILTERS(): every query filter and dimension value dropped;
- ``cleared``: the fields whose query filters and row values are dropped (by ALL([Field]),
  or replaced by a CALCULATE filter on that field);
- ``filters``: the CALCULATE filters in force (a later one on the same field replaces an
  earlier one, as an inner CALCULATE overrides an outer one);
- ``time``: time-intelligence steps (TOTALYTD, SAMEPERIODLASTYEAR, DATEADD) applied in order to
  the row's period of ``time_field``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from connectors.errors import InvalidQuery
from connectors.measures.ir import FieldRef, FilterMod, Mod, RemoveMod, ShiftMod, TimeMod


@dataclass(frozen=True, slots=True)
class Context:
    clear_all: bool = False
    cleared: frozenset[str] = frozenset()
    filters: tuple[FilterMod, ...] = ()
    time: tuple[TimeMod, ...] = ()
    time_field: FieldRef | None = None

    @property
    def is_query(self) -> bool:
        """The query's own context, unchanged."""
        return self == Context()

    def keeps(self, key: str) -> bool:
        """Whether the query's filters and the row's values on field ``key`` still apply."""
        return not self.clear_all and key not in self.cleared

    def apply(self, mod: Mod) -> Context:
        if isinstance(mod, RemoveMod):
            if mod.fields is None:
                return Context(clear_all=True)
            return self._without(mod.fields)
        if isinstance(mod, FilterMod):
            if mod.keep:
                return replace(self, filters=(*self.filters, mod))
            narrowed = self._without(mod.fields)
            return replace(narrowed, filters=(*narrowed.filters, mod))
        return self._time(mod)

    def _without(self, fields: frozenset[str]) -> Context:
        filters = tuple(item for item in self.filters if not item.fields & fields)
        keep_time = self.time_field is None or self.time_field.key not in fields
        return replace(
            self,
            cleared=self.cleared | fields,
            filters=filters,
            time=self.time if keep_time else (),
            time_field=self.time_field if keep_time else None,
        )

    def _time(self, mod: TimeMod) -> Context:
        field = mod.field
        if self.time_field is not None and self.time_field.key != field.key:
            raise InvalidQuery(
                f"time intelligence on [{self.time_field.name}] and [{field.name}] cannot be "
                "combined in one measure"
            )
        if not self.time and not self.keeps(field.key):
            what = "SAMEPERIODLASTYEAR/DATEADD" if isinstance(mod, ShiftMod) else "TOTALYTD"
            raise InvalidQuery(
                f"{what} needs the result row's period of [{field.name}], but an outer "
                f"ALL, REMOVEFILTERS or filter on [{field.name}] removed it"
            )
        without = self._without(frozenset({field.key}))
        return replace(without, time=(*self.time, mod), time_field=field)
