"""Run a command once the control plane answers: `python -m controlplane.await_web COMMAND...`.

For a process that talks to the web process and fails when it is not up yet (the traffic
simulator reads its plan through the API), started at the same time by the Procfile or
docker compose. The control plane is SWITCHYARD_URL, else http://127.0.0.1:PORT: where the
simulator reports. The command then replaces this process (same pid, same signals).
"""

import argparse
import os
import sys
import time

import httpx

DEFAULT_TIMEOUT_SECONDS = 120


def control_plane_url() -> str:
    return (os.environ.get("SWITCHYARD_URL") or f"http://127.0.0.1:{os.environ.get('PORT') or 8000}").rstrip("/")


def wait_until_serving(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m controlplane.await_web", description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="Seconds to wait at most.")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="The command to run, with its arguments.")
    args = parser.parse_args(argv)
    if not args.command:
        parser.error("name the command to run")
    url = control_plane_url()
    if not wait_until_serving(url, args.timeout):
        print(
            f"{url}/healthz did not answer within {args.timeout:g} s; not starting {args.command[0]}", file=sys.stderr
        )
        return 1
    os.execvp(args.command[0], args.command)


if __name__ == "__main__":
    sys.exit(main())
