"""Commands: an argv (never a shell), in its own process group, with a timeout.

Output (stdout and stderr together, in order) is read line by line: each line goes to the
live log as it comes and the last lines are kept for the migration log. On timeout the
whole process group is killed, so a command's children do not outlive it.
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading

from .base import LineSink, OutputTail, StepFailed, ignore_line

# Between SIGTERM and SIGKILL: long enough to flush, short enough not to stall a rollback.
KILL_GRACE_SECONDS = 2.0
PR_SET_PDEATHSIG = 1


def _die_with_parent():  # pragma: no cover - runs in the child between fork and exec
    # If the worker running this step is killed, the step dies too instead of running on
    # unseen: the sweeper will report it interrupted, and it must really have stopped.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def run(spec: dict, timeout: float, on_line: LineSink = ignore_line) -> str:
    argv = spec["argv"]
    env = {**os.environ, **(spec.get("env") or {})}
    tail = OutputTail()
    try:
        process = subprocess.Popen(
            argv,
            cwd=spec.get("cwd") or None,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    except OSError as error:
        raise StepFailed(f"cannot start {argv[0]!r}: {error.strerror or error}") from error

    def read():
        for line in process.stdout:
            on_line(tail.add(line))

    reader = threading.Thread(target=read, name=f"step-output-{process.pid}", daemon=True)
    reader.start()
    try:
        status = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        reader.join(timeout=KILL_GRACE_SECONDS)
        raise StepFailed(
            f"{_name(argv)} ran longer than its timeout of {timeout:g} s; its process group was killed", tail.text()
        ) from None
    finally:
        if process.poll() is None:  # interrupted by something else: never leave it running
            _kill_group(process)
    # Whatever it left behind in its group would hold the output pipe open: it goes too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    reader.join()
    if status != 0:
        raise StepFailed(f"{_name(argv)} exited with status {status}", tail.text())
    return tail.text()


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=KILL_GRACE_SECONDS)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _name(argv: list[str]) -> str:
    return os.path.basename(argv[0]) if argv else "the command"
