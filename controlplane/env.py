"""Reading settings from the environment, loudly.

A malformed value stops start-up with an ImproperlyConfigured error that names the
variable: `DEBUG=yes` is an operator's typo, not a quiet False.
"""

import os
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"true", "1"}
FALSE_WORDS = {"false", "0"}
DATABASE_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql"}
REDIS_SCHEMES = {"redis", "rediss"}


def get_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be True or False (or 1 or 0), not {raw!r}")


def get_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum}, not {value}")
    return value


def get_float(name: str, default: float, *, minimum: float, maximum: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ImproperlyConfigured(f"{name} must be between {minimum:g} and {maximum:g}, not {value:g}")
    return value


def get_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_database_url(name: str, url: str) -> dict:
    """A Django DATABASES entry from a URL; `name` is the variable it came from."""
    scheme = urlsplit(url).scheme
    if scheme not in DATABASE_SCHEMES:
        raise ImproperlyConfigured(f"{name} must be a sqlite:// or postgres:// URL, not {url!r}")
    try:
        config = dj_database_url.parse(url)
    except (ValueError, KeyError) as error:
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {error}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        if not config.get("NAME"):
            raise ImproperlyConfigured(f"{name} names no SQLite file: {url!r}")
        # Several threads write in the embedded mode: wait for the lock instead of failing,
        # and take it at BEGIN so that two writers never deadlock on an upgrade.
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    elif not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} names no database: {url!r}")
    return config


def get_database(name: str, default_url: str) -> dict:
    return parse_database_url(name, os.environ.get(name) or default_url)


def get_database_pool(prefix: str, *, min_size: int, max_size: int, timeout: int) -> dict | None:
    """psycopg's connection pool options for Django's PostgreSQL backend, from `{prefix}`
    (True or False) and `{prefix}_MIN_SIZE`, `{prefix}_MAX_SIZE`, `{prefix}_TIMEOUT` (seconds);
    None when `{prefix}=False`."""
    if not get_bool(prefix, True):
        return None
    low = get_int(f"{prefix}_MIN_SIZE", min_size, minimum=0, maximum=100)
    high = get_int(f"{prefix}_MAX_SIZE", max_size, minimum=1, maximum=100)
    if low > high:
        raise ImproperlyConfigured(f"{prefix}_MIN_SIZE ({low}) must not be above {prefix}_MAX_SIZE ({high})")
    return {
        "min_size": low,
        "max_size": high,
        "timeout": get_int(f"{prefix}_TIMEOUT", timeout, minimum=1, maximum=600),
        # Connections beyond min_size that sat unused this long are closed, and every
        # connection is replaced after max_lifetime: nothing is held for good.
        "max_idle": 60,
        "max_lifetime": 1800,
        "name": "switchyard",
    }


def get_redis_url(name: str) -> str | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    parts = urlsplit(raw)
    if parts.scheme not in REDIS_SCHEMES or not parts.hostname:
        raise ImproperlyConfigured(f"{name} must be a redis:// URL with a host, not {raw!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has a bad port: {raw!r}") from None
    return raw


def get_target_databases(name: str, default: dict[str, str]) -> dict[str, str]:
    """`TARGET_DATABASES=target=postgres://...,reports=sqlite:///...`: databases that plan
    steps act on, by the name a step gives in `database:`."""
    raw = os.environ.get(name)
    pairs = dict(default)
    if raw and raw.strip():
        pairs = {}
        for item in raw.split(","):
            alias, sep, url = item.strip().partition("=")
            if not sep or not alias.strip() or not url.strip():
                raise ImproperlyConfigured(f"{name} must be a comma-separated list of name=URL, not {item!r}")
            pairs[alias.strip()] = url.strip()
    for alias, url in pairs.items():
        parse_database_url(f"{name}[{alias}]", url)
    return pairs
