"""A step for the engine's tests: appends `LABEL START END` to a log file, so a test can
read which steps ran, in which order, how often, and when.

    python stepper.py LOG LABEL [--sleep SECONDS] [--fail] [--spawn-sleeper PIDFILE] [--fail-unless PATH]
"""

import argparse
import os
import subprocess
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("log")
parser.add_argument("label")
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--fail", action="store_true")
parser.add_argument("--spawn-sleeper", metavar="PIDFILE")
parser.add_argument("--fail-unless", metavar="PATH", help="fail unless this file exists")
args = parser.parse_args()

start = time.time()
print(f"{args.label}: started", flush=True)
if args.spawn_sleeper:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open(args.spawn_sleeper, "w") as pidfile:
        pidfile.write(str(child.pid))
with open(args.log, "a") as log:
    log.write(f"{args.label} begin {start:.3f}\n")
time.sleep(args.sleep)
with open(args.log, "a") as log:
    log.write(f"{args.label} end {time.time():.3f}\n")
if args.fail or (args.fail_unless and not os.path.exists(args.fail_unless)):
    print(f"{args.label}: failing on purpose", file=sys.stderr, flush=True)
    sys.exit(3)
print(f"{args.label}: done", flush=True)
