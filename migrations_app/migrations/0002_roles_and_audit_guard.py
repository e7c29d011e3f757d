"""The four role groups, and (on PostgreSQL) a trigger that keeps the audit log append-only
even against raw SQL."""

from django.db import migrations

ROLES = ["viewer", "operator", "approver", "admin"]

AUDIT_GUARD = """
CREATE OR REPLACE FUNCTION migrations_app_audit_is_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER migrations_app_auditevent_append_only
  BEFORE UPDATE OR DELETE ON migrations_app_auditevent
  FOR EACH ROW EXECUTE FUNCTION migrations_app_audit_is_append_only();
"""
AUDIT_GUARD_REVERSE = """
DROP TRIGGER IF EXISTS migrations_app_auditevent_append_only ON migrations_app_auditevent;
DROP FUNCTION IF EXISTS migrations_app_audit_is_append_only();
"""


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


def add_audit_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(AUDIT_GUARD, params=None)


def remove_audit_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(AUDIT_GUARD_REVERSE, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("migrations_app", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_roles, remove_roles),
        migrations.RunPython(add_audit_guard, remove_audit_guard),
    ]
