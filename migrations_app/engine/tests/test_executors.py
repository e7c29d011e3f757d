"""The step executors on their own: sql on scratch databases, http against a local test
server, commands in their process group, checks, and `${NAME}` substitution."""

import json
import os
import sqlite3
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from migrations_app.engine.executors import StepFailed, execute, substitute
from migrations_app.engine.executors.sql import statements

from .conftest import STEPPER


def test_sql_is_split_into_statements_but_not_inside_string_literals():
    assert statements("CREATE TABLE t (a TEXT); INSERT INTO t VALUES ('x;y');\n\n") == [
        "CREATE TABLE t (a TEXT)",
        "INSERT INTO t VALUES ('x;y')",
    ]


def test_sql_statements_commit_together_on_a_sqlite_target(target_sqlite):
    out = execute(
        {"sql": "CREATE TABLE t (id INT); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)"},
        database="target",
        timeout=5,
    )
    assert out == "3 statements committed on target, 2 row(s) changed"
    assert sqlite3.connect(target_sqlite).execute("SELECT COUNT(*) FROM t").fetchone() == (2,)


def test_a_failing_statement_rolls_back_the_ones_before_it(target_sqlite):
    with pytest.raises(StepFailed, match="statement 2 of 2 failed, the transaction was rolled back: no such table"):
        execute({"sql": "CREATE TABLE t (id INT); INSERT INTO missing VALUES (1)"}, database="target", timeout=5)
    tables = sqlite3.connect(target_sqlite).execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
    assert tables == []


def test_a_sqlite_statement_past_the_timeout_is_interrupted(target_sqlite):
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n"
    with pytest.raises(StepFailed, match="ran longer than the step's timeout and was interrupted"):
        execute({"sql": endless}, database="target", timeout=0.5)


def test_an_unknown_target_database_is_named_with_the_known_ones(target_sqlite):
    with pytest.raises(StepFailed, match=r"database 'reports' is not in TARGET_DATABASES \(known: target\)"):
        execute({"sql": "SELECT 1"}, database="reports", timeout=5)


@pytest.fixture
def scratch_postgres(settings):
    """A PostgreSQL database made for this test on the local server, dropped after it."""
    name = f"sy_engine_scratch_{uuid.uuid4().hex[:8]}"
    server = urlsplit(os.environ["DATABASE_URL"])
    admin = urlunsplit(server._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(server._replace(scheme="postgres", path=f"/{name}"))
    settings.TARGET_DATABASES = {"scratch": url}
    yield url
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_sql_runs_in_one_transaction_on_a_postgresql_target(scratch_postgres):
    execute(
        {"sql": "CREATE TABLE agents (id TEXT PRIMARY KEY); INSERT INTO agents VALUES ('a'), ('b')"},
        database="scratch",
        timeout=5,
    )
    with pytest.raises(StepFailed, match="statement 2 of 2 failed"):
        execute(
            {"sql": "INSERT INTO agents VALUES ('c'); INSERT INTO agents VALUES ('a')"}, database="scratch", timeout=5
        )
    check = {"check": {"sql": {"query": "SELECT COUNT(*) FROM agents", "expect": 2}}}
    assert execute(check, database="scratch", timeout=5) == "the query returned 2 as expected"


def test_a_postgresql_statement_past_the_timeout_is_cancelled(scratch_postgres):
    with pytest.raises(StepFailed, match="ran longer than the step's timeout and was cancelled"):
        execute({"sql": "SELECT pg_sleep(5)"}, database="scratch", timeout=0.3)


def test_an_sql_assertion_that_does_not_hold_says_what_it_got(target_sqlite):
    execute({"sql": "CREATE TABLE t (id INT); INSERT INTO t VALUES (1)"}, database="target", timeout=5)
    with pytest.raises(StepFailed, match="the query returned 1, expected 0"):
        execute({"check": {"sql": {"query": "SELECT COUNT(*) FROM t", "expect": 0}}}, database="target", timeout=5)


# --- HTTP ----------------------------------------------------------------------------------


class Server:
    """A local HTTP server answering from a script of (status, body) per path."""

    def __init__(self):
        self.script: dict[str, list[tuple[int, dict]]] = {}
        self.seen: list[tuple[str, str, dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.seen.append((self.command, self.path, dict(self.headers), body))
                answers = outer.script.get(self.path) or [(404, {})]
                status, payload = answers.pop(0) if len(answers) > 1 else answers[0]
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server():
    running = Server()
    yield running
    running.httpd.shutdown()


def test_an_http_step_sends_its_request_with_substituted_headers(server, monkeypatch):
    monkeypatch.setenv("HOOK_TOKEN", "s3cret")
    monkeypatch.setenv("HOOK_URL", server.url)
    server.script["/deployed"] = [(202, {})]
    spec = {
        "http": {
            "url": "${HOOK_URL}/deployed",
            "method": "POST",
            "json": {"slot": "green"},
            "headers": {"Authorization": "Bearer ${HOOK_TOKEN}"},
            "expect_status": 202,
        }
    }

    assert execute(spec, timeout=5) == f"POST {server.url}/deployed answered 202"
    method, path, headers, body = server.seen[0]
    assert (method, path, headers["Authorization"], json.loads(body)) == (
        "POST",
        "/deployed",
        "Bearer s3cret",
        {"slot": "green"},
    )


def test_an_http_step_retries_with_backoff_until_the_expected_status(server):
    server.script["/flaky"] = [(503, {}), (503, {}), (200, {})]
    spec = {"http": {"url": f"{server.url}/flaky", "retries": 3, "backoff_seconds": 0.01}}
    assert execute(spec, timeout=5) == f"GET {server.url}/flaky answered 200"
    assert len(server.seen) == 3


def test_an_http_step_gives_up_after_its_retries_naming_the_last_answer(server):
    server.script["/down"] = [(500, {})]
    spec = {"http": {"url": f"{server.url}/down", "retries": 2, "backoff_seconds": 0.01}}
    with pytest.raises(StepFailed, match="failed after 3 tries: try 3: answered 500, expected 200"):
        execute(spec, timeout=5)


def test_an_http_probe_checks_the_status_and_a_json_field(server):
    server.script["/health/agent-service"] = [(200, {"status": {"db": "up"}})]
    probe = {"url": f"{server.url}/health/agent-service", "json_field": "status.db", "expect_value": "up"}
    assert "status.db = 'up'" in execute({"check": {"http": probe}}, timeout=5)
    with pytest.raises(StepFailed, match="status.db is 'up', expected 'down'"):
        execute({"check": {"http": {**probe, "expect_value": "down"}}}, timeout=5)
    with pytest.raises(StepFailed, match="answered 404, expected 200"):
        execute({"check": {"http": {"url": f"{server.url}/health/nope"}}}, timeout=5)


# --- Commands and substitution ------------------------------------------------------------


def test_a_command_streams_its_lines_in_order_and_keeps_the_tail():
    lines = []
    code = "import sys\nprint('one', flush=True)\nprint('two', file=sys.stderr, flush=True)\nprint('three')"
    out = execute({"command": {"argv": ["${PYTHON}", "-c", code]}}, timeout=10, on_line=lines.append)
    assert lines == ["one", "two", "three"]
    assert out == "one\ntwo\nthree"


def test_a_command_that_fails_reports_its_status_and_output():
    with pytest.raises(StepFailed, match="exited with status 3") as failure:
        execute({"command": {"argv": [sys.executable, str(STEPPER), os.devnull, "x", "--fail"]}}, timeout=10)
    assert "x: failing on purpose" in failure.value.output


def process_alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_a_command_that_outlives_its_timeout_is_killed_with_its_children(tmp_path):
    pidfile = tmp_path / "child.pid"
    argv = [sys.executable, str(STEPPER), str(tmp_path / "log"), "x", "--sleep", "60", "--spawn-sleeper", str(pidfile)]
    with pytest.raises(StepFailed, match="ran longer than its timeout of 1 s; its process group was killed"):
        execute({"command": {"argv": argv}}, timeout=1)
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while process_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_alive(child)


def test_a_command_gets_its_cwd_and_env(tmp_path, monkeypatch):
    monkeypatch.setenv("REGION", "eu")
    code = "import os; print(os.getcwd(), os.environ['SLOT'])"
    spec = {"command": {"argv": ["${PYTHON}", "-c", code], "cwd": str(tmp_path), "env": {"SLOT": "green-${REGION}"}}}
    assert execute(spec, timeout=10) == f"{tmp_path} green-eu"


def test_a_missing_program_is_named():
    with pytest.raises(StepFailed, match="cannot start 'no-such-program-here'"):
        execute({"command": {"argv": ["no-such-program-here"]}}, timeout=5)


def test_an_unset_variable_fails_the_step_naming_it():
    with pytest.raises(StepFailed, match=r"environment variable SIMULATOR_URL_UNSET is not set"):
        substitute({"url": "${SIMULATOR_URL_UNSET}/health"}, environ={})
    assert substitute(["${PYTHON}", "${A}-x"], environ={"A": "a"}) == [sys.executable, "a-x"]
    assert substitute("${PYTHON}", environ={"PYTHON": "/opt/py"}) == "/opt/py"
