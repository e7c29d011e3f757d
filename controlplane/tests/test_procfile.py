"""The Procfile runner behind the distributed `make run`: every process started, its lines
prefixed by its name, and all of them stopped together."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controlplane import procfile

ROOT = Path(__file__).resolve().parents[2]
# Prints "NAME ready", then waits to be stopped; `python` is resolved by the runner.
WAITER = "python -c \"import time; print('{name} ready', flush=True); time.sleep(600)\""
# Ignores SIGTERM: only SIGKILL ends it.
STUBBORN = (
    'python -c "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); '
    "print('stubborn ready', flush=True); time.sleep(600)\""
)


def test_it_reads_the_processes_in_order_skipping_comments_and_blank_lines():
    entries = procfile.parse("# the web\nweb: python manage.py serve\n\nworker: celery -A x worker -n 'a b@%h'\n")
    assert [(e.name, e.argv) for e in entries] == [
        ("web", ["python", "manage.py", "serve"]),
        ("worker", ["celery", "-A", "x", "worker", "-n", "a b@%h"]),
    ]


def test_it_names_every_problem_with_its_line():
    text = "web python serve\nweb: python serve\nweb: python again\nbad name: x\nempty:\nquote: echo 'open\n"
    with pytest.raises(procfile.ProcfileError) as refused:
        procfile.parse(text, source="Procfile")
    assert refused.value.problems == [
        "Procfile:1: expected `name: command`, got 'web python serve'",
        "Procfile:3: process 'web' is defined twice",
        "Procfile:4: 'bad name' is not a process name (letters, digits, - and _)",
        "Procfile:5: process 'empty' has no command",
        "Procfile:6: the command of 'quote' cannot be split: No closing quotation",
    ]


def test_a_procfile_with_only_a_release_has_nothing_to_run():
    with pytest.raises(procfile.ProcfileError) as refused:
        procfile.parse("release: python manage.py migrate\n")
    assert refused.value.problems == ["Procfile: no processes to run"]


def test_the_projects_procfile_is_valid_and_runs_exactly_one_beat():
    entries = procfile.read(procfile.ROOT_PROCFILE)
    names = [e.name for e in entries]
    assert names[0] == "release"
    assert set(names) == {"release", "web", "worker-control", "worker-migrations", "beat", "simulator"}
    assert [e.argv[:4] for e in entries if "beat" in e.argv] == [["celery", "-A", "controlplane", "beat"]]


class Run:
    """`python -m controlplane.procfile` on a Procfile, as `make run` starts it."""

    def __init__(self, tmp_path, text, *args):
        path = tmp_path / "Procfile"
        path.write_text(text)
        env = os.environ | {"SY_TEST_DIR": str(tmp_path)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "controlplane.procfile", str(path), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []

    def read_until(self, line: str) -> None:
        if line in self.lines:
            return
        for read in self.process.stdout:
            self.lines.append(read.rstrip("\n"))
            if self.lines[-1] == line:
                return
        raise AssertionError(f"the runner ended before {line!r}:\n" + "\n".join(self.lines))

    def finish(self) -> int:
        out, _ = self.process.communicate(timeout=60)
        self.lines += out.splitlines()
        return self.process.returncode

    def pids(self) -> dict[str, int]:
        found = {}
        for line in self.lines:
            name, _, rest = line.partition(" | ")
            if rest.startswith("started with pid "):
                found[name.strip()] = int(rest.split()[3].rstrip(":"))
        return found


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
def test_ctrl_c_stops_every_process_and_their_lines_carry_their_names(tmp_path):
    run = Run(tmp_path, f"web: {WAITER.format(name='web')}\nworker: {WAITER.format(name='worker')}\n")
    run.read_until("web    | web ready")
    run.read_until("worker | worker ready")
    run.process.send_signal(signal.SIGINT)
    assert run.finish() == 0
    pids = run.pids()
    assert set(pids) == {"web", "worker"}
    assert all(gone(pid) for pid in pids.values())


@pytest.mark.slow
def test_when_one_process_exits_the_others_are_stopped_and_the_runner_fails(tmp_path):
    run = Run(tmp_path, f'web: {WAITER.format(name="web")}\ncrash: python -c "raise SystemExit(3)"\n')
    assert run.finish() == 3
    assert "procfile | crash exited with code 3; stopping the others" in run.lines
    assert gone(run.pids()["web"])


@pytest.mark.slow
def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    run = Run(tmp_path, f"stubborn: {STUBBORN}\n", "--grace", "1")
    run.read_until("stubborn | stubborn ready")
    run.process.send_signal(signal.SIGTERM)
    assert run.finish() == 0
    assert "procfile | stubborn did not stop within 1 s; killing it" in run.lines
    assert gone(run.pids()["stubborn"])


@pytest.mark.slow
def test_release_runs_first_and_a_failed_release_starts_nothing(tmp_path):
    marker = tmp_path / "released"
    ok = Run(
        tmp_path,
        f"release: python -c \"open('{marker}', 'w').close()\"\n"
        f"web: python -c \"import os; print('released' if os.path.exists('{marker}') else 'too early')\"\n",
    )
    assert ok.finish() == 1  # web ended on its own, which stops the group
    assert "web     | released" in ok.lines

    failed = Run(tmp_path, f'release: python -c "raise SystemExit(4)"\nweb: {WAITER.format(name="web")}\n')
    assert failed.finish() == 4
    assert "procfile | release failed with code 4; nothing else was started" in failed.lines
    assert "web" not in failed.pids()


def test_python_in_a_command_is_the_runners_own():
    env = procfile.child_environment({"PATH": "/usr/bin"})
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert env["PYTHONUNBUFFERED"] == "1"


def test_a_missing_procfile_is_named(tmp_path, capsys):
    assert procfile.main([str(tmp_path / "Nope")]) == 2
    assert f"{tmp_path / 'Nope'}: No such file or directory" in capsys.readouterr().err


@pytest.mark.slow
def test_a_second_ctrl_c_kills_at_once(tmp_path):
    run = Run(tmp_path, f"stubborn: {STUBBORN}\n", "--grace", "60")
    run.read_until("stubborn | stubborn ready")
    run.process.send_signal(signal.SIGINT)
    time.sleep(0.5)  # two signals sent at the same instant may arrive as one
    run.process.send_signal(signal.SIGINT)
    # The grace is a minute and finish() waits at most one: only the second Ctrl-C ends it.
    assert run.finish() == 0
    assert gone(run.pids()["stubborn"])
