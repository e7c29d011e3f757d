"""Reading an ingestion body: content type, size, JSON array or NDJSON, item shapes.

A batch is judged whole. Shape errors (a missing field, a provider that is neither
"original" nor "migrated") come from pydantic, which validates the raw bytes in one pass;
each is reported as {index, field, reason}. What needs the database (does the plan have
this component?) is checked by `monitoring.ingest`.
"""

from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, StrictBool, StringConstraints, TypeAdapter, ValidationError
from pydantic_core import from_json
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

MAX_ITEMS = 10_000
MAX_ERRORS_LISTED = 1_000
JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl", "application/jsonlines"})

Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class MetricItem(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    plan: Name
    component: Name
    operation: Name
    provider: Literal["original", "migrated"]
    duration_ms: Annotated[float, Field(allow_inf_nan=False)]
    success: StrictBool
    error_message: NotRequired[Annotated[str, StringConstraints(max_length=2000)] | None]
    recorded_at: NotRequired[datetime | None]


class ComparisonItem(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    plan: Name
    component: Name
    request_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    equivalent: StrictBool
    diff: NotRequired[Any]
    recorded_at: NotRequired[datetime | None]


METRIC_BATCH = TypeAdapter(list[MetricItem])
COMPARISON_BATCH = TypeAdapter(list[ComparisonItem])


class BatchRefused(Exception):
    """The whole batch is refused; nothing is written. `detail` is a sentence or a list
    of {index, field, reason}."""

    def __init__(self, status: int, detail):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def item_error(index: int | None, field: str | None, reason: str) -> dict:
    return {"index": index, "field": field, "reason": reason}


def refuse_items(errors: list[dict]) -> BatchRefused:
    listed = errors[:MAX_ERRORS_LISTED]
    if len(errors) > MAX_ERRORS_LISTED:
        listed.append(item_error(None, None, f"... and {len(errors) - MAX_ERRORS_LISTED} more errors"))
    return BatchRefused(422, listed)


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def check_envelope(content_type: str, content_length: int | None, max_bytes: int) -> str:
    """Refuse a wrong content type (415) or a body known to be too large (413) before reading it."""
    kind = media_type(content_type)
    if kind not in JSON_TYPES | NDJSON_TYPES:
        raise BatchRefused(
            415,
            f"send Content-Type: application/json (a JSON array of items) or application/x-ndjson "
            f"(one JSON object a line), not {kind or 'nothing'!r}",
        )
    if content_length is not None and content_length > max_bytes:
        raise BatchRefused(413, f"the body is {content_length} bytes; at most {max_bytes} are taken per request")
    return kind


def parse(body: bytes, kind: str, adapter: TypeAdapter) -> tuple[list[tuple[int, dict]], list[dict]]:
    """(index, item) of each well-shaped item, and an error for each badly shaped one, from a
    JSON array or NDJSON body. Raises BatchRefused for a body that is not a batch at all."""
    if kind in NDJSON_TYPES:
        lines = [line for line in body.split(b"\n") if line.strip()]
        _check_count(len(lines))
        # One JSON array, so that pydantic parses and validates every line in one pass.
        document = b"[" + b",".join(lines) + b"]"
        try:
            return list(enumerate(adapter.validate_json(document))), []
        except ValidationError as error:
            if _is_json_error(error):
                raise refuse_items(_bad_lines(lines)) from None
            return _item_by_item(from_json(document), adapter, error)
    try:
        items = adapter.validate_json(body)
    except ValidationError as error:
        if _is_json_error(error):
            raise BatchRefused(400, f"the body is not valid JSON: {error.errors()[0]['msg']}") from None
        errors = error.errors()
        if errors and errors[0]["loc"] == () and errors[0]["type"] == "list_type":
            raise BatchRefused(422, "the body must be a JSON array of items (or NDJSON, one item a line)") from None
        values = from_json(body)
        _check_count(len(values))
        return _item_by_item(values, adapter, error)
    _check_count(len(items))
    return list(enumerate(items)), []


def _item_by_item(values: list, adapter: TypeAdapter, error: ValidationError):
    """The slow path, taken only when some item is badly shaped: validate each item on
    its own, so that the well-shaped ones can still be checked and every error listed."""
    bad = {e["loc"][0] for e in error.errors() if e["loc"] and isinstance(e["loc"][0], int)}
    good = [(index, value) for index, value in enumerate(values) if index not in bad]
    items = adapter.validate_python([value for _, value in good])
    return [(index, item) for (index, _), item in zip(good, items, strict=True)], _shape_errors(error)


def _check_count(count: int) -> None:
    if count > MAX_ITEMS:
        raise BatchRefused(413, f"the batch has {count} items; at most {MAX_ITEMS} are taken per request")


def _is_json_error(error: ValidationError) -> bool:
    return any(e["type"] == "json_invalid" for e in error.errors())


def _bad_lines(lines: list[bytes]) -> list[dict]:
    errors = []
    for index, line in enumerate(lines):
        try:
            from_json(line)
        except ValueError as error:
            errors.append(item_error(index, None, f"not valid JSON: {error}"))
    return errors or [item_error(None, None, "the body is not valid NDJSON")]


REASONS = {
    "missing": "is required",
    "extra_forbidden": "is not a field of an item",
    "bool_type": "must be true or false",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "string_type": "must be a string",
    "string_too_short": "must not be empty",
    "dict_type": "each item must be a JSON object",
}


def _shape_errors(error: ValidationError) -> list[dict]:
    result = []
    for e in error.errors(include_url=False):
        loc = e["loc"]
        index = loc[0] if loc and isinstance(loc[0], int) else None
        field = ".".join(str(part) for part in loc[1:]) or None
        reason = REASONS.get(e["type"], e["msg"])
        if e["type"] == "literal_error" and field == "provider":
            reason = f"must be 'original' or 'migrated', not {e['input']!r}"
        elif e["type"] == "string_too_long":
            reason = f"is longer than {e['ctx']['max_length']} characters"
        result.append(item_error(index, field, reason))
    result.sort(key=lambda item: (item["index"] is None, item["index"] or 0))
    return result
