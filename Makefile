# The two commands (see README): `make run` for the demo, `make test` for the tests.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Where the demo keeps its state (SQLite files, generated secrets): settings.VAR_DIR.
VAR_DIR := $(or $(SWITCHYARD_VAR_DIR),var)
# Tests run against PostgreSQL and Redis on this machine unless told otherwise.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/switchyard
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

CHROMIUM := /usr/bin/chromium

.PHONY: run test lint format bench install install-dev browser clean

$(VENV)/.run-installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.run-installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.run-installed
install-dev: $(VENV)/.dev-installed

# The browser tests drive Debian's Chromium: Playwright cannot download a browser here.
# Installed with apt when this runs as root; otherwise it says what to run.
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Chromium for the browser tests"; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else \
	    echo "the browser tests need $(CHROMIUM): sudo apt-get install -y chromium chromium-driver" >&2; \
	    exit 1; \
	  fi; \
	fi

$(VAR_DIR)/secret-key:
	@mkdir -p $(VAR_DIR)
	@$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@
	@chmod 600 $@

# Without REDIS_URL: embedded, one process (web server, Celery worker and beat in threads,
# SQLite, the traffic simulator beside it). With it: the Procfile's processes together
# (web, a worker per queue, beat, the simulator on PORT + 1 unless SIMULATOR_URL says).
# The demo runs the plan's durations ten times faster so that a whole rollout can be
# watched (ROLLOUT_TIME_SCALE), and steps a planned rollback down every 10 s.
run: export ROLLOUT_TIME_SCALE ?= 0.1
run: export PLANNED_ROLLBACK_STEP_SECONDS ?= 10
run: install $(VAR_DIR)/secret-key
ifeq ($(strip $(REDIS_URL)),)
	PORT=$(PORT) $(PY) manage.py demo
else
	PORT=$(PORT) SIMULATOR_URL="$${SIMULATOR_URL:-http://127.0.0.1:$$(($(PORT) + 1))}" \
	$(PY) -m controlplane.procfile Procfile
endif

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install-dev
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

test: install-dev lint browser
	SECRET_KEY=test-only-not-secret \
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" \
	REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
	$(PY) -m pytest $(PYTEST_ARGS)

# Measured as production runs (DEBUG off): with DEBUG on, Django also keeps every query's
# SQL and checks template files for changes, which no deployed server does.
bench: install-dev
	DEBUG=False SECRET_KEY=bench-only-not-secret \
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" \
	REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
	$(PY) -m benchmarks $(BENCH)

clean:
	rm -rf $(VENV) staticfiles
