"""The Report aggregate: pages, visuals, field wells, format properties and filters."""

from domain.report.aggregate import Report
from domain.report.document import Savepoint

__all__ = ["Report", "Savepoint"]
