"""After every migrate (and every flush, which emits post_migrate too): the role groups
exist and the admin group holds every model permission. Permissions only exist once
post_migrate has created them, so the data migration that makes the groups cannot grant
them."""

from django.contrib.auth.models import Group, Permission

from migrations_app.roles import Role

ADMIN_APPS = ("migrations_app", "monitoring", "auth")


def ensure_roles(sender, **kwargs):
    groups = {role: Group.objects.get_or_create(name=role)[0] for role in Role}
    permissions = Permission.objects.filter(content_type__app_label__in=ADMIN_APPS)
    # The audit log is read-only for everyone, admins included.
    permissions = permissions.exclude(
        content_type__model="auditevent", codename__in=["add_auditevent", "change_auditevent", "delete_auditevent"]
    )
    groups[Role.ADMIN].permissions.add(*permissions)
