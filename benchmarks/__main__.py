"""Run every benchmark module (or those named): `python -m benchmarks [engine rollout ...]`."""

import importlib
import os
import pkgutil
import sys
from pathlib import Path

import django


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
    django.setup()
    here = Path(__file__).parent
    names = argv or sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))
    if not names:
        print("no benchmarks yet")
        return 0
    failed = []
    for name in names:
        print(f"\n=== benchmarks/{name}.py")
        module = importlib.import_module(f"benchmarks.{name}")
        if module.main() is False:
            failed.append(name)
    if failed:
        print(f"\nmissed their targets: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
