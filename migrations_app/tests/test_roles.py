import pytest
from django.contrib.auth.models import Group

from conftest import actor
from migrations_app.errors import NotAllowed
from migrations_app.roles import Permission


@pytest.mark.django_db
def test_the_four_role_groups_exist_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {"viewer", "operator", "approver", "admin"}


@pytest.mark.django_db
def test_each_role_grants_what_the_design_says(personas):
    can = {name: {p for p in Permission if actor(user).can(p)} for name, user in personas.items()}
    assert can["viewer"] == {Permission.VIEW, Permission.ROLLOUT_READ}
    assert can["operator"] == {Permission.VIEW, Permission.ROLLOUT_READ, Permission.OPERATE}
    assert can["approver"] == {Permission.VIEW, Permission.ROLLOUT_READ, Permission.APPROVE}
    assert can["admin"] == set(Permission)
    assert can["nobody"] == set()


@pytest.mark.django_db
def test_a_refusal_names_the_actor_the_action_and_the_role_needed(viewer):
    with pytest.raises(NotAllowed, match="vera-viewer may not start a phase: it needs the operator or admin role"):
        actor(viewer).require(Permission.OPERATE, "start a phase")


@pytest.mark.django_db
def test_an_inactive_user_has_no_permissions(operator):
    operator.is_active = False
    operator.save()
    assert not actor(operator).can(Permission.VIEW)


@pytest.mark.django_db
def test_the_admin_group_gets_model_permissions_but_cannot_edit_the_audit_log():
    admin = Group.objects.get(name="admin")
    codenames = set(admin.permissions.values_list("codename", flat=True))
    assert {"change_component", "view_auditevent", "add_plan"} <= codenames
    assert not codenames & {"change_auditevent", "delete_auditevent", "add_auditevent"}
