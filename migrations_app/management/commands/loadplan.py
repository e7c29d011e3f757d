from django.core.management.base import BaseCommand, CommandError

from migrations_app.errors import DomainError
from migrations_app.planfile import PlanFileError, load_plan, parse_plan_file
from migrations_app.roles import CLI


class Command(BaseCommand):
    help = "Validate a plan file and load it (or, with --check, only validate it)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the plan's YAML file.")
        parser.add_argument("--check", action="store_true", help="Validate only; write nothing.")

    def handle(self, *args, file, check, **options):
        try:
            spec, source = parse_plan_file(file)
        except PlanFileError as error:
            for problem in error.problems:
                self.stderr.write(f"{file}: {problem}")
            count = len(error.problems)
            raise CommandError(f"{count} problem{'s' if count != 1 else ''} in {file}; nothing was written") from None
        if check:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{file}: plan {spec.key!r} is valid ({len(spec.spec.phases)} phases, "
                    f"{len(spec.spec.components)} components)"
                )
            )
            return
        try:
            result = load_plan(spec, source, actor=CLI)
        except DomainError as error:
            raise CommandError(f"{file}: {error.message}\nnothing was written") from None
        if result.created:
            self.stdout.write(self.style.SUCCESS(f"plan {spec.key!r} loaded from {file}"))
        elif result.changes:
            self.stdout.write(self.style.SUCCESS(f"plan {spec.key!r} reloaded from {file}:"))
            for change in result.changes:
                self.stdout.write(f"  {change}")
        else:
            self.stdout.write(f"plan {spec.key!r} is unchanged")
