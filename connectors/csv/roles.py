"""Which columns are measures (aggregated) and which are dimensions (grouped and filtered by).

As in Power BI: numbers are measures, everything else a dimension, except numbers whose name
says they identify or date something (``CustomerID``, ``zip``, ``Year``, ``Latitude``): nobody
sums those. The rule reads only a column's name and type, so the importer and
`CsvConnector.infer_schema` (which sees only the Parquet file) always agree.
"""

from __future__ import annotations

import re
from typing import Final

from domain.dataset.schema import NUMERIC_TYPES, FieldRole, FieldType

#: Name words of numeric columns that are not quantities.
_NOT_QUANTITIES: Final = frozenset(
    {
        "id", "ids", "uuid", "guid", "key", "code", "codes", "no", "nr", "num",
        "zip", "zipcode", "postcode", "postal", "plz", "fips", "iata", "icao",
        "phone", "tel", "telephone", "fax", "ean", "upc", "isbn", "sku", "ssn",
        "year", "years", "yr", "yyyy", "quarter", "qtr", "month", "week", "weekday",
        "day", "hour", "minute",
        "lat", "latitude", "lon", "lng", "long", "longitude",
        "rank", "version",
    }
)  # fmt: skip
_CAMEL_BOUNDARY: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD: Final = re.compile(r"[A-Za-z]+|[0-9]+")


def name_words(name: str) -> list[str]:
    """``CustomerID`` → ``["customer", "id", "customerid"]``, ``zip_code`` → ``["zip", "code"]``
    (camel-case words, then the lower-cased words not already there: ``IDs`` → ``ids``)."""
    camel = [word.lower() for word in _WORD.findall(_CAMEL_BOUNDARY.sub(" ", name))]
    plain = _WORD.findall(name.lower())
    return camel + [word for word in plain if word not in camel]


def role_for(name: str, field_type: FieldType) -> FieldRole:
    if field_type not in NUMERIC_TYPES:
        return "dimension"
    if any(word in _NOT_QUANTITIES for word in name_words(name)):
        return "dimension"
    return "measure"
