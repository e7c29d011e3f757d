"""Figures as operators read them: rates as percentages, latencies in ms, changes signed."""

from datetime import datetime

from django import template

register = template.Library()


def _missing(value) -> bool:
    # A lookup through a missing part (no baseline yet) reaches a filter as "".
    return value is None or value == ""


@register.filter
def percent(rate, digits=1):
    """0.0125 -> "1.3%"; None -> "—"."""
    if _missing(rate):
        return "—"
    return f"{rate * 100:.{int(digits)}f}%"


@register.filter
def ms(value):
    return "—" if _missing(value) else f"{value:,.0f} ms"


@register.filter
def per_second(value):
    return "—" if _missing(value) else f"{value:,.2f}/s"


@register.filter
def signed(value, unit="%"):
    """A change: +3.2%, -20.0%, or +0.50 points."""
    if _missing(value):
        return "—"
    if unit == "points":
        return f"{value:+.2f} points"
    return f"{value:+.1f}{unit}"


@register.filter
def minute(iso: str | None) -> str:
    """An ISO 8601 time from the report's JSON, to the minute: "2026-03-02 12:10"."""
    return "—" if not iso else datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")
