from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from migrations_app import tokens
from migrations_app.errors import DomainError
from migrations_app.roles import CLI, SCOPE_PERMISSIONS


class Command(BaseCommand):
    help = "Create an API token and print it once (only its digest is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="A unique name for the token, e.g. the service that uses it.")
        parser.add_argument(
            "--scopes",
            default="",
            help=f"Comma-separated scopes: {', '.join(sorted(SCOPE_PERMISSIONS))}. "
            "A personal token without scopes has all of its user's roles.",
        )
        parser.add_argument("--user", help="Make a personal token that acts as this user, with their roles.")

    def handle(self, *args, name, scopes, user, **options):
        scope_list = [s.strip() for s in scopes.split(",") if s.strip()]
        owner = None
        if user:
            owner = get_user_model().objects.filter(username=user).first()
            if owner is None:
                raise CommandError(f"no user named {user!r}")
        try:
            token, raw = tokens.create(name=name, scopes=scope_list, user=owner, actor=CLI)
        except DomainError as error:
            raise CommandError(error.message) from None
        who = f"acting as {owner.username}" if owner else "service token"
        self.stdout.write(f"Token {token.name!r} ({who}; scopes: {', '.join(scope_list) or 'all of the user roles'}).")
        self.stdout.write("It is shown only now; store it somewhere safe:")
        self.stdout.write(raw)
