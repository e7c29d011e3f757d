"""HTTP calls (`http` steps) and probes (`check: {http: ...}`)."""

import time

import httpx

from .base import StepFailed

# A step's timeout bounds the whole call, retries included; each try gets what is left.
MAX_BACKOFF_SECONDS = 30.0


def call(spec: dict, timeout: float) -> str:
    """Send the request; retry (with doubling backoff) on a transport error or an
    unexpected status, `retries` times at most. Returns what happened, in words."""
    method = spec.get("method", "GET")
    url = spec["url"]
    expect = spec.get("expect_status", 200)
    retries = max(int(spec.get("retries", 0)), 0)
    backoff = float(spec.get("backoff_seconds", 1.0))
    deadline = time.monotonic() + timeout
    problems = []
    for attempt in range(retries + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            response = httpx.request(
                method, url, headers=spec.get("headers") or {}, json=spec.get("json"), timeout=left
            )
        except httpx.HTTPError as error:
            problems.append(f"try {attempt + 1}: {type(error).__name__}: {error or 'no answer'}")
        else:
            if response.status_code == expect:
                return f"{method} {url} answered {response.status_code}"
            problems.append(f"try {attempt + 1}: answered {response.status_code}, expected {expect}")
        if attempt < retries:
            pause = min(backoff * 2**attempt, MAX_BACKOFF_SECONDS, max(deadline - time.monotonic(), 0))
            time.sleep(pause)
    tries = len(problems)
    raise StepFailed(f"{method} {url} failed after {tries} tr{'y' if tries == 1 else 'ies'}: {problems[-1]}")


def probe(spec: dict, timeout: float) -> str:
    """GET the URL once: the status must match and, when `json_field` is given, the
    field's value (a dotted path into the JSON body) must equal `expect_value`."""
    url = spec["url"]
    expect = spec.get("expect_status", 200)
    try:
        response = httpx.get(url, headers=spec.get("headers") or {}, timeout=timeout)
    except httpx.HTTPError as error:
        raise StepFailed(f"probe of {url} failed: {type(error).__name__}: {error or 'no answer'}") from error
    if response.status_code != expect:
        raise StepFailed(f"probe of {url} answered {response.status_code}, expected {expect}")
    field = spec.get("json_field")
    if not field:
        return f"{url} answered {response.status_code}"
    try:
        value = response.json()
        for part in field.split("."):
            value = value[int(part)] if isinstance(value, list) else value[part]
    except (ValueError, KeyError, IndexError, TypeError):
        raise StepFailed(f"probe of {url}: the answer has no JSON field {field!r}") from None
    if value != spec.get("expect_value"):
        raise StepFailed(f"probe of {url}: {field} is {value!r}, expected {spec.get('expect_value')!r}")
    return f"{url} answered {response.status_code} with {field} = {value!r}"
