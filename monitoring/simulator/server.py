"""The simulator's own HTTP server: the components' health URLs, and faults that the
dashboard (or curl) sets while it runs.

    GET  /health/<component>   200, or 503 under a `health` fault
    GET  /faults               the current provider settings and faults
    POST /faults               {"migrated.error_rate": 0.12, "health": "edge-functions"}
    DELETE /faults             back to the defaults
    GET  /stats                requests per component: by provider, fallbacks, errors
"""

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from monitoring.simulator.model import FaultError

logger = logging.getLogger(__name__)


class Handler(BaseHTTPRequestHandler):
    server_version = "switchyard-simulator"

    def log_message(self, format, *args):
        logger.debug("%s %s", self.address_string(), format % args)

    def _json(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        # The dashboard calls POST /faults from the browser, from another origin.
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(data)

    def do_OPTIONS(self):
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.end_headers()

    def do_GET(self):
        simulator = self.server.simulator
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.startswith("/health/"):
            component = path.removeprefix("/health/")
            if simulator.known_components and component not in simulator.known_components:
                self._json(404, {"detail": f"plan {simulator.plan!r} has no component {component!r}"})
            elif simulator.faults.healthy(component):
                self._json(200, {"status": "ok", "component": component})
            else:
                self._json(503, {"status": "failing", "component": component, "reason": "health fault injected"})
        elif path == "/faults":
            self._json(200, simulator.faults.describe())
        elif path == "/stats":
            self._json(200, simulator.stats())
        elif path == "":
            self._json(200, {"plan": simulator.plan, "endpoints": ["/health/<component>", "/faults", "/stats"]})
        else:
            self._json(404, {"detail": f"no such path {path!r}"})

    def do_POST(self):
        if self.path.split("?", 1)[0].rstrip("/") != "/faults":
            self._json(404, {"detail": "POST /faults only"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise FaultError('send a JSON object, e.g. {"migrated.error_rate": 0.12}')
            if body.pop("reset", False):
                self.server.simulator.faults.reset()
            self.server.simulator.faults.set_many(body)
        except (ValueError, FaultError) as error:
            self._json(400, {"detail": str(error)})
            return
        logger.info("faults set: %s", body)
        self._json(200, self.server.simulator.faults.describe())

    def do_DELETE(self):
        if self.path.split("?", 1)[0].rstrip("/") != "/faults":
            self._json(404, {"detail": "DELETE /faults only"})
            return
        self.server.simulator.faults.reset()
        self._json(200, self.server.simulator.faults.describe())


def make_server(simulator, host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.simulator = simulator
    return server
