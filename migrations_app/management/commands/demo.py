from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from migrations_app import demo


class Command(BaseCommand):
    help = "Run the demo: migrate, load the TrustStream plan, create the demo logins, serve."

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", action="store_true", help="Set up only; do not serve.")

    def handle(self, *args, no_serve, **options):
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        result = demo.load_demo_plan()
        state = "loaded" if result.created else ("reloaded" if result.changes else "already loaded")
        self.stdout.write(f"Plan {result.plan.key} {state}.")
        password = demo.demo_password()
        users = demo.ensure_users(password)
        url = f"http://127.0.0.1:{settings.PORT}/"
        self.stdout.write(self.style.SUCCESS(f"\nSwitchyard is at {url}"))
        self.stdout.write(f"Log in as {', '.join(users)} with the password: {password}\n")
        if not no_serve:
            call_command("serve")
