"""Run every benchmark module (or those named): `python -m benchmarks [engine rollout ...]`.

Each module runs in a process of its own: a benchmark's scratch database, connection pool
and channel layer must not outlive it into the next one."""

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import django


def run_one(name: str) -> bool:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
    django.setup()
    print(f"\n=== benchmarks/{name}.py", flush=True)
    module = importlib.import_module(f"benchmarks.{name}")
    return module.main() is not False


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))
    if not names:
        print("no benchmarks yet")
        return 0
    if len(names) == 1:
        return 0 if run_one(names[0]) else 1
    failed = [name for name in names if subprocess.run([sys.executable, "-m", "benchmarks", name]).returncode != 0]
    if failed:
        print(f"\nmissed their targets: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
