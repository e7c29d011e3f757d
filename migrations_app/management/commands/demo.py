import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from migrations_app import demo


class Command(BaseCommand):
    help = (
        "Run the demo: migrate, load the TrustStream plan, create the demo logins, and serve "
        "it embedded (web server, Celery worker and beat in one process)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", action="store_true", help="Set up only; do not serve.")

    def handle(self, *args, no_serve, **options):
        if not no_serve and not settings.EMBEDDED:
            raise CommandError(
                "REDIS_URL is set, so the control plane runs as separate processes: `make run` starts "
                "them all (see the Procfile); `manage.py demo --no-serve` only sets the demo up"
            )
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        for alias in demo.create_target_databases():
            self.stdout.write(f"Target database {alias} created, empty: the plan's steps act on it.")
        result = demo.load_demo_plan()
        state = "loaded" if result.created else ("reloaded" if result.changes else "already loaded")
        self.stdout.write(f"Plan {result.plan.key} {state}.")
        password = demo.demo_password()
        users = demo.ensure_users(password)
        url = f"http://127.0.0.1:{settings.PORT}/"
        self.stdout.write(self.style.SUCCESS(f"\nSwitchyard is at {url}"))
        self.stdout.write(f"Log in as {', '.join(users)} with the password: {password}\n")
        if not no_serve:
            self.serve_embedded()

    def serve_embedded(self):
        """The web server, with Celery's worker and beat in threads of this process, and the
        traffic simulator beside it as a child process."""
        # Before the worker starts: its probes and the plan's steps resolve ${SIMULATOR_URL}.
        os.environ["SIMULATOR_URL"] = demo.simulator_url()
        self.stdout.write(f"The traffic simulator serves the plan's health URLs at {os.environ['SIMULATOR_URL']}\n")
        simulator = demo.SimulatorProcess(f"http://127.0.0.1:{settings.PORT}")
        simulator.start()
        try:
            call_command("serve")
        finally:
            simulator.stop()
