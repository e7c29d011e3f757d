"""Run a Procfile's processes together: `python -m controlplane.procfile [Procfile]`.

Each line `name: command` is one process; `release`, when present, runs first and must
succeed (Heroku's convention: migrations). The others run side by side, their output
prefixed by their name. When one of them exits, or on Ctrl-C or SIGTERM, all are stopped
together: SIGTERM to each process group, SIGKILL to what is left after a grace period (or
at once, on a second Ctrl-C).

Commands are split like a shell would (shlex) and run without a shell. `python` and
`celery` resolve to this Python's environment first, so `make run` needs no activated venv.
"""

import argparse
import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

RELEASE = "release"
ROOT_PROCFILE = Path(__file__).resolve().parent.parent / "Procfile"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
# Long enough for a Celery worker's warm shutdown of short tasks; a long migration step is
# cut short, and the engine's crash rules take it from there.
GRACE_SECONDS = 10
COLOURS = ("36", "33", "32", "35", "34", "31", "96", "93")


class ProcfileError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Entry:
    name: str
    command: str

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.command)


def parse(text: str, source: str = "Procfile") -> list[Entry]:
    """The entries in file order; every problem at once, each with its line number."""
    entries: list[Entry] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, command = line.partition(":")
        name, command = name.strip(), command.strip()
        where = f"{source}:{number}"
        if not colon:
            problems.append(f"{where}: expected `name: command`, got {line!r}")
        elif not NAME.match(name):
            problems.append(f"{where}: {name!r} is not a process name (letters, digits, - and _)")
        elif name in seen:
            problems.append(f"{where}: process {name!r} is defined twice")
        elif not command:
            problems.append(f"{where}: process {name!r} has no command")
        else:
            try:
                shlex.split(command)
            except ValueError as error:
                problems.append(f"{where}: the command of {name!r} cannot be split: {error}")
                continue
            seen.add(name)
            entries.append(Entry(name, command))
    if not problems and not [e for e in entries if e.name != RELEASE]:
        problems.append(f"{source}: no processes to run")
    if problems:
        raise ProcfileError(problems)
    return entries


def read(path: str | Path) -> list[Entry]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ProcfileError([f"{path}: {error.strerror}"]) from None
    return parse(text, source=str(path))


def child_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # Lines appear as they are printed, not when a buffer fills.
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Runner:
    def __init__(self, entries: list[Entry], *, env=None, out=None, grace: float = GRACE_SECONDS):
        self.release = next((e for e in entries if e.name == RELEASE), None)
        self.entries = [e for e in entries if e.name != RELEASE]
        self.env = child_environment(env)
        self.out = out or sys.stdout
        self.grace = grace
        self.width = max(len(e.name) for e in entries)
        self.colour = hasattr(self.out, "isatty") and self.out.isatty()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.processes: dict[str, subprocess.Popen] = {}
        self.readers: list[threading.Thread] = []

    def run(self) -> int:
        """1. release, waited for; 2. every other process; 3. watch until one exits or a
        signal comes; 4. stop them all. Returns 0 after a signal, else non-zero."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            if self.release is not None:
                code = self._run_release()
                if code != 0:
                    return code
            for index, entry in enumerate(self.entries):
                if self.stopping.is_set():
                    break
                self._start(entry, index)
            ended = self._watch()
            self._stop_all()
            if ended is None:
                return 0
            code = ended[1]
            return code if code > 0 else 1
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run_release(self) -> int:
        process = self._start(self.release, len(self.entries))
        while process.poll() is None and not self.stopping.wait(0.1):
            pass
        if process.poll() is None:
            self._stop_all()
            return 0
        self._join_readers()
        del self.processes[self.release.name]
        if process.returncode != 0:
            self.say(f"{self.release.name} failed with code {process.returncode}; nothing else was started")
        return process.returncode

    def _start(self, entry: Entry, index: int) -> subprocess.Popen:
        process = subprocess.Popen(
            entry.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own process group: Ctrl-C reaches the runner only, which stops them in order.
            start_new_session=True,
        )
        self.processes[entry.name] = process
        self.say(f"started with pid {process.pid}: {entry.command}", entry.name, index)
        reader = threading.Thread(target=self._relay, args=(entry.name, index, process), daemon=True)
        reader.start()
        self.readers.append(reader)
        return process

    def _relay(self, name: str, index: int, process: subprocess.Popen) -> None:
        for line in iter(process.stdout.readline, b""):
            self.say(line.decode(errors="replace").rstrip("\n"), name, index)
        process.stdout.close()

    def _watch(self) -> tuple[str, int] | None:
        while not self.stopping.wait(0.1):
            for name, process in self.processes.items():
                if process.poll() is not None:
                    self.say(f"{name} exited with code {process.returncode}; stopping the others")
                    return name, process.returncode
        return None

    def _stop_all(self) -> None:
        running = {name: p for name, p in self.processes.items() if p.poll() is None}
        for process in running.values():
            self._signal(process, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for name, process in running.items():
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{name} did not stop within {self.grace:.0f} s; killing it")
                self._signal(process, signal.SIGKILL)
                process.wait()
        self._join_readers()
        for name, process in self.processes.items():
            self.say(f"{name} stopped (code {process.returncode})")

    def _join_readers(self) -> None:
        for reader in self.readers:
            reader.join(5)
        self.readers = []

    @staticmethod
    def _signal(process: subprocess.Popen, sig: int) -> None:
        # Already gone: it exited between the check and the signal.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)

    def _on_signal(self, signum, frame) -> None:
        if self.stopping.is_set():
            # A second Ctrl-C: no more grace.
            for process in list(self.processes.values()):
                if process.poll() is None:
                    self._signal(process, signal.SIGKILL)
        self.stopping.set()

    def say(self, text: str, name: str = "", index: int | None = None) -> None:
        prefix = f"{name or 'procfile':<{self.width}} | "
        if self.colour:
            colour = "1" if index is None else COLOURS[index % len(COLOURS)]
            prefix = f"\033[{colour}m{prefix}\033[0m"
        with self.lock:
            self.out.write(prefix + text + "\n")
            self.out.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m controlplane.procfile", description=__doc__.split("\n\n")[0])
    parser.add_argument("procfile", nargs="?", default=str(ROOT_PROCFILE))
    parser.add_argument(
        "--grace", type=float, default=GRACE_SECONDS, help="Seconds a process has to stop before it is killed."
    )
    args = parser.parse_args(argv)
    try:
        entries = read(args.procfile)
    except ProcfileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 2
    return Runner(entries, grace=args.grace).run()


if __name__ == "__main__":
    sys.exit(main())
