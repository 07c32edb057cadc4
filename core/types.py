"""Column types: aware UTC datetimes, exact money and quantities."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware datetime stored as UTC; SQLite gives naive values back, we fix that."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Pergola stores aware UTC datetimes only")
        value = value.astimezone(dt.UTC)
        # SQLite compares datetimes as text: store one fixed format without offset.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """`Numeric` that is a `Decimal` in Python on every database, never a float.

    PostgreSQL stores NUMERIC exactly. SQLite has no decimal type: we send the value as
    text (SQLite's NUMERIC affinity keeps comparisons and sums numeric) and quantize on the
    way back, which is exact up to 15 significant digits; the embedded default is for
    small companies, production runs on PostgreSQL.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 18, scale: int = 4) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            # Declared NUMERIC for affinity; the driver gets text, never a float.
            return dialect.type_descriptor(_SQLiteNumeric(self.precision, self.scale))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money and quantities take Decimal, int or str, never float")
        value = Decimal(value).quantize(self._quantum)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, float):
            value = repr(value)
        return Decimal(value).quantize(self._quantum)


class _SQLiteNumeric(String):
    """Renders as NUMERIC(p, s) on SQLite but passes values through as text."""

    __visit_name__ = "NUMERIC"

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__()
        self.precision = precision
        self.scale = scale

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        return None


Money = Annotated[Decimal, mapped_column(ExactDecimal(18, 4))]
"""Money amount: Numeric(18, 4) in the database, `Decimal` in Python."""

Quantity = Annotated[Decimal, mapped_column(ExactDecimal(18, 4))]
"""Stock quantity: Numeric(18, 4), so KG and L can carry fractions."""
