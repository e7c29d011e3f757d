from django.core.management.base import BaseCommand, CommandError

from migrations_app import tokens
from migrations_app.models import ApiToken
from migrations_app.roles import CLI


class Command(BaseCommand):
    help = "Revoke an API token by name: every call made with it is refused from now on (audited)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The token's name, as createtoken was given it.")
        parser.add_argument("--reason", default="", help="Why, for the audit log.")

    def handle(self, *args, name, reason, **options):
        token = ApiToken.objects.filter(name=name).first()
        if token is None:
            raise CommandError(f"no token named {name!r}")
        if not tokens.revoke(token, actor=CLI, reason=reason):
            raise CommandError(f"token {name!r} was revoked already, at {token.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
        self.stdout.write(f"Token {name!r} revoked.")
