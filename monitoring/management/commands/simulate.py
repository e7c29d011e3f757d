import logging
import os
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from monitoring.simulator.launch import SetupError, build, create_token, listen_address, revoke_token
from monitoring.simulator.model import FaultError


class Command(BaseCommand):
    help = (
        "Simulate the system being migrated: requests for every traffic component of PLAN, routed by the "
        "live rollout snapshot, reported to the control plane; serves the components' health URLs."
    )

    def add_arguments(self, parser):
        parser.add_argument("plan", help="The plan's key, e.g. truststream-v4.2.")
        parser.add_argument(
            "--url",
            default=os.environ.get("SWITCHYARD_URL") or f"http://127.0.0.1:{settings.PORT}",
            help="The control plane (SWITCHYARD_URL; default http://127.0.0.1:PORT).",
        )
        parser.add_argument(
            "--token",
            default=os.environ.get("SWITCHYARD_TOKEN"),
            help="An API token with metrics:write, rollout:read and read (SWITCHYARD_TOKEN). Without one, a "
            "token is created in the control plane's database, so run it beside the control plane.",
        )
        parser.add_argument("--port", type=int, help="Port of the health URLs and /faults (default: SIMULATOR_URL's).")
        parser.add_argument("--rate", type=float, default=20.0, help="Requests per second per traffic component.")
        parser.add_argument(
            "--fault",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="e.g. migrated.error_rate=0.12, migrated.latency_ms=2500, comparison.mismatch_rate=0.1, "
            "health=edge-functions (repeatable; also settable while running: POST /faults).",
        )
        parser.add_argument("--seed", type=int, help="Make the run reproducible.")
        parser.add_argument("--duration", type=float, help="Stop after this many seconds (default: until Ctrl-C).")

    def handle(self, *args, plan, url, token, port, rate, fault, seed, duration, **options):
        if rate <= 0:
            raise CommandError("--rate must be above 0")
        # A line per request (several a second) would bury what matters: warnings, faults set.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        created = None
        if not token:
            created, token = create_token(plan)
            self.stdout.write("Created an API token for the simulator (metrics:write, rollout:read, read).")
        try:
            self._simulate(plan, url, token, port, rate, fault, seed, duration)
        finally:
            if created is not None:
                revoke_token(created)

    def _simulate(self, plan, url, token, port, rate, fault, seed, duration):
        try:
            simulator = build(plan, base_url=url, token=token, faults=fault, rate=rate, seed=seed)
        except (SetupError, FaultError) as error:
            raise CommandError(str(error)) from None
        host, bound = listen_address(port)
        address = simulator.serve_http(host, bound)
        self.stdout.write(
            self.style.SUCCESS(
                f"Simulating {plan} at {rate:g} requests/s for {', '.join(simulator.traffic_components)}"
            )
        )
        self.stdout.write(f"Health URLs and faults at {address} (POST {address}/faults); reporting to {url}")
        signal.signal(signal.SIGTERM, lambda *_: simulator.stopping.set())
        try:
            simulator.run(duration=duration)
        except KeyboardInterrupt:
            simulator.stop()
        stats = simulator.stats()
        self.stdout.write(
            f"Stopped. Reported {stats['reported']['metrics']} samples, {stats['reported']['comparisons']} comparisons."
        )
