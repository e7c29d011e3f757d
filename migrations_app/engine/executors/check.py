"""Checks: an HTTP probe, or an SQL assertion (a query and the value it must return)."""

from decimal import Decimal

from . import http, sql
from .base import StepFailed


def run(spec: dict, database: str, timeout: float) -> str:
    if spec.get("http"):
        return http.probe(spec["http"], timeout)
    if spec.get("sql"):
        assertion = spec["sql"]
        value = sql.query_value(database, assertion["query"], timeout)
        if not same(value, assertion.get("expect")):
            raise StepFailed(f"the query returned {value!r}, expected {assertion.get('expect')!r}")
        return f"the query returned {value!r} as expected"
    raise StepFailed("the check has neither an http probe nor an sql assertion")


def same(value, expect) -> bool:
    """Numbers compare as numbers (COUNT(*) is 3 whether the driver says 3, 3.0 or "3")."""
    numeric = (int, float, Decimal)
    if isinstance(expect, bool) or isinstance(value, bool):
        return value == expect
    if isinstance(expect, numeric) and isinstance(value, (*numeric, str)):
        try:
            return Decimal(str(value)) == Decimal(str(expect))
        except ArithmeticError:
            return False
    if isinstance(expect, str) and not isinstance(value, str) and value is not None:
        return str(value) == expect
    return value == expect
