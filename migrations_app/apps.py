from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MigrationsAppConfig(AppConfig):
    name = "migrations_app"
    verbose_name = "Migrations"

    def ready(self):
        from migrations_app.signals import ensure_roles

        post_migrate.connect(ensure_roles, sender=self)
