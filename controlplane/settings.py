"""Switchyard settings, all read from the environment (see the README's configuration table).

With no REDIS_URL the control plane runs embedded: SQLite, Celery on an in-memory broker
inside the web process, an in-process channel layer. With REDIS_URL it runs the
distributed topology: Redis broker and channel layer, separate worker and beat processes.
"""

import os
import sys
from pathlib import Path

import plotly
from django.core.exceptions import ImproperlyConfigured

from controlplane import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SWITCHYARD_VAR_DIR") or BASE_DIR / "var")

DEBUG = env.get_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
# `make run` keeps a generated key in var/secret-key (never in the repository), so that
# management commands run beside the demo share its key without being told it.
SECRET_KEY_FILE = Path(os.environ.get("SECRET_KEY_FILE") or VAR_DIR / "secret-key")
if not SECRET_KEY and SECRET_KEY_FILE.is_file():
    SECRET_KEY = SECRET_KEY_FILE.read_text().strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            f"SECRET_KEY must be set, or kept in {SECRET_KEY_FILE} (or DEBUG=True for local development)"
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG"

ALLOWED_HOSTS = env.get_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.get_list("CSRF_TRUSTED_ORIGINS", [])
PORT = env.get_int("PORT", 8000, minimum=1, maximum=65535)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "channels",
    "migrations_app",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "controlplane.middleware.LoginRequiredExceptApiMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "controlplane.urls"
ASGI_APPLICATION = "controlplane.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "migrations_app.context_processors.roles",
            ],
        },
    },
    {
        # The partials the plan overview repeats per item (a traffic card, a component row, a
        # phase, a checklist item), included from the Django templates with {% jinja %}:
        # Jinja2 renders them about three times faster, and the overview shows dozens.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "migrations_app.jinja.environment", "keep_trailing_newline": True},
    },
]

DATABASES = {"default": env.get_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'switchyard.sqlite3'}")}
DATABASE_POOL = None
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
else:
    # Under ASGI each request runs in a thread of its own and Django closes its connection
    # after it: without a pool every request connects anew (milliseconds), and persistent
    # connections (CONN_MAX_AGE) would leak one per thread. Each process keeps a small pool
    # (PostgreSQL's 100 connections are shared by every web process and worker); a request
    # borrows a connection at its first query and gives it back when it ends.
    DATABASE_POOL = env.get_database_pool("DATABASE_POOL", min_size=1, max_size=4, timeout=10)
    if DATABASE_POOL:
        DATABASES["default"]["OPTIONS"] = {**DATABASES["default"].get("OPTIONS", {}), "pool": DATABASE_POOL}
        # A pooled connection that died (a PostgreSQL restart) is checked and replaced when
        # borrowed, not handed to a request.
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Databases that plan steps act on (`database: target` in a plan), by name.
TARGET_DATABASES = env.get_target_databases("TARGET_DATABASES", {"target": f"sqlite:///{VAR_DIR / 'target.sqlite3'}"})

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
# Set for deployments that run collectstatic; the demo serves straight from the finders.
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Plotly.js ships inside the plotly package: served from there, never from a CDN.
    ("plotly", Path(plotly.__file__).resolve().parent / "package_data"),
]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Topology: embedded (no REDIS_URL) or distributed (Redis) ---------------------------
REDIS_URL = env.get_redis_url("REDIS_URL")
EMBEDDED = REDIS_URL is None

# Messages a browser's socket may have waiting before more are dropped (Channels' default
# is 100): a step's output streams line by line, faster than a slow browser reads it.
CHANNEL_CAPACITY = 1000
# Connections each process's Redis channel layer may have at once (per event loop): at
# least the sockets one web process serves. Idle ones stay open, each a file descriptor.
CHANNEL_LAYER_MAX_CONNECTIONS = env.get_int("CHANNEL_LAYER_MAX_CONNECTIONS", 500, minimum=10, maximum=10_000)
if EMBEDDED:
    # Celery tasks publish from worker threads: the stock InMemoryChannelLayer is bound to
    # the server's event loop and delivers them late (controlplane/layers.py).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "controlplane.layers.ThreadSafeInMemoryChannelLayer",
            "CONFIG": {"capacity": CHANNEL_CAPACITY},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py refuses a command at once ("Too many connections") when this many
                # are busy; every socket that opens or closes sends one, so a crowd of
                # browsers leaving at once would stay in the plan's group (its default is 100).
                # Its default read timeout (5 s) is exactly as long as the layer's blocking
                # pop waits for a message (brpop_timeout): an idle wait would often end in a
                # timeout error instead of an empty answer.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": CHANNEL_LAYER_MAX_CONNECTIONS,
                        "socket_timeout": 15,
                    }
                ],
                "prefix": os.environ.get("CHANNEL_PREFIX", "switchyard"),
                "capacity": CHANNEL_CAPACITY,
            },
        }
    }

# The longest a single step may run; the broker's visibility timeout must outlast it so
# that a long step is never redelivered to a second worker while the first still runs it.
MAX_STEP_TIMEOUT_SECONDS = env.get_int("MAX_STEP_TIMEOUT_SECONDS", 3600, minimum=1)

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": MAX_STEP_TIMEOUT_SECONDS * 2 + 300}
if EMBEDDED:
    # The in-memory broker is polled (every second by default); a phase's tasks hand over
    # to each other through it, and each hand-off would wait for the next poll.
    CELERY_BROKER_TRANSPORT_OPTIONS["polling_interval"] = 0.05
# Beat's record of when each periodic task last ran, kept with the other local state.
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "control"
CELERY_TASK_ROUTES = {"migrations_app.engine.tasks.run_*": {"queue": "migrations"}}
# The control plane's own tasks (the topology check); the apps' tasks are autodiscovered.
CELERY_IMPORTS = ["controlplane.tasks"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Rollout controller -------------------------------------------------------------------
# Plans state the procedure's real durations (5-minute intervals and health windows). The
# demo runs them faster: every rollout interval and health window is multiplied by this.
ROLLOUT_TIME_SCALE = env.get_float("ROLLOUT_TIME_SCALE", 1.0, minimum=0.001, maximum=1.0)
# The procedure's planned rollback waits a minute at each step down (75, 50, 25, 10, 0).
PLANNED_ROLLBACK_STEP_SECONDS = env.get_int("PLANNED_ROLLBACK_STEP_SECONDS", 60, minimum=0)
# After an emergency rollback: 3 consecutive healthy checks, at most 10, 5 s apart (procedure 6.1),
# each judged over a short window so that the failure that caused the rollback has left it.
STABILITY_CHECK_INTERVAL_SECONDS = env.get_int("STABILITY_CHECK_INTERVAL_SECONDS", 5, minimum=0)
STABILITY_WINDOW_SECONDS = env.get_int("STABILITY_WINDOW_SECONDS", 30, minimum=1)
# `evaluate(component, window_seconds=None) -> HealthVerdict`, the contract monitoring provides.
ROLLOUT_HEALTH_EVALUATOR = "monitoring.health.evaluate"
# The data plane's per-process snapshot cache, emptied by PostgreSQL notifications (rollout/cache.py).
ROLLOUT_CACHE = env.get_bool("ROLLOUT_CACHE", True)

# --- Monitoring -------------------------------------------------------------------------
# Raw request samples are kept this long; their 10-second rollups are kept.
METRICS_RETENTION_HOURS = env.get_int("METRICS_RETENTION_HOURS", 24, minimum=1)
# Largest body POST /api/v1/metrics and /comparisons take (10,000 items fit well within).
METRICS_MAX_BODY_BYTES = env.get_int("METRICS_MAX_BODY_BYTES", 16 * 1024 * 1024, minimum=1024)
# Addresses (or CIDR networks) that may read /metrics without a token.
METRICS_ALLOWED_IPS = env.get_list("METRICS_ALLOWED_IPS", [])
# Slack-compatible incoming webhook for alerts, rollbacks and promotions (a secret: env only).
ALERT_WEBHOOK_URL = os.environ.get("ALERT_WEBHOOK_URL", "").strip()
# The demo's traffic simulator (its /faults endpoint): the dashboard shows its controls only when set.
SIMULATOR_URL = os.environ.get("SIMULATOR_URL", "").strip().rstrip("/")

# --- Logging ------------------------------------------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {LOG_LEVEL!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": sys.stderr, "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
