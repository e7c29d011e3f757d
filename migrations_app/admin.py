from django.contrib import admin

from migrations_app.models import (
    ApiToken,
    Approval,
    ApprovalVote,
    AuditEvent,
    ChecklistItem,
    Component,
    Phase,
    Plan,
    Rollout,
    Run,
    Step,
    StepAttempt,
)


class StateReadOnly:
    """States move only through their state machine, never by an admin edit."""

    readonly_fields = ("state", "state_changed_at")


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("key", "name", "force_original", "epoch", "loaded_at", "reloaded_at")
    readonly_fields = ("source", "source_sha256", "force_original", "epoch", "loaded_at", "reloaded_at")


@admin.register(Phase)
class PhaseAdmin(StateReadOnly, admin.ModelAdmin):
    list_display = ("plan", "position", "key", "name", "risk", "state", "approvals_required")
    list_filter = ("plan", "state", "risk")


@admin.register(ChecklistItem)
class ChecklistItemAdmin(admin.ModelAdmin):
    list_display = ("plan", "position", "text", "checked_by", "checked_at")


class StepInline(admin.TabularInline):
    model = Step
    extra = 0
    fields = ("position", "name", "kind", "database", "timeout_seconds")


@admin.register(Component)
class ComponentAdmin(StateReadOnly, admin.ModelAdmin):
    list_display = ("name", "plan", "phase", "risk", "traffic", "state")
    list_filter = ("plan", "phase", "state", "risk", "traffic")
    inlines = [StepInline]


@admin.register(Step)
class StepAdmin(admin.ModelAdmin):
    list_display = ("component", "position", "name", "kind", "timeout_seconds")
    list_filter = ("kind",)


@admin.register(Rollout)
class RolloutAdmin(StateReadOnly, admin.ModelAdmin):
    list_display = ("component", "percentage", "state", "epoch", "fallback", "comparison")
    readonly_fields = ("state", "state_changed_at", "percentage", "epoch", "percentage_changed_at")


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("pk", "plan", "phase", "kind", "state", "triggered_by_name", "created_at", "finished_at")
    list_filter = ("state", "kind")


@admin.register(StepAttempt)
class StepAttemptAdmin(admin.ModelAdmin):
    list_display = ("run", "component", "step", "direction", "status", "started_at", "duration_ms")
    list_filter = ("status", "direction")


class ApprovalVoteInline(admin.TabularInline):
    model = ApprovalVote
    extra = 0
    readonly_fields = ("approver", "at", "comment")


@admin.register(Approval)
class ApprovalAdmin(admin.ModelAdmin):
    list_display = ("pk", "plan", "kind", "summary", "state", "requested_by_name", "expires_at")
    list_filter = ("state", "kind")
    readonly_fields = ("state", "decided_at", "fingerprint")
    inlines = [ApprovalVoteInline]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "scopes", "user", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("digest", "prefix", "created_at", "last_used_at")

    def has_add_permission(self, request):
        return False  # tokens are shown once: `manage.py createtoken` prints them


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is history."""

    list_display = ("at", "actor_name", "action", "target_label", "reason")
    list_filter = ("action", "actor_name")
    search_fields = ("target_label", "reason")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
