"""Starting a process once the control plane answers (the Procfile's simulator line)."""

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Healthz(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def await_web(url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "controlplane.await_web", *args],
        cwd=ROOT,
        env={"SWITCHYARD_URL": url, "PATH": str(Path(sys.executable).parent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_the_command_runs_only_once_the_control_plane_answers():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Healthz)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    process = await_web(url, "python", "-c", "print('started')")
    # Nothing answers yet: the listening socket exists, but no one accepts.
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(1.5)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out, err = process.communicate(timeout=30)
    server.shutdown()
    assert (process.returncode, out) == (0, "started\n"), err


@pytest.mark.slow
def test_it_gives_up_naming_the_url_and_runs_nothing():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Healthz)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    server.server_close()
    process = await_web(url, "--timeout", "1", "python", "-c", "print('started')")
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert out == ""
    assert f"{url}/healthz did not answer within 1 s; not starting python" in err
