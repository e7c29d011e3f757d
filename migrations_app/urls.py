from django.urls import path

from migrations_app.views import alerts, approvals, audit, checklist, components, emergency, phases, plans

app_name = "migrations_app"
P = "plans/<plan:plan_key>/"
C = P + "components/<slug:name>/"
A = P + "approvals/<int:approval_id>/"

urlpatterns = [
    path("", plans.plan_list, name="plan_list"),
    path(P, plans.plan_detail, name="plan_detail"),
    path(P + "live/", plans.live, name="live"),
    path(P + "report/", plans.report, name="report"),
    path(P + "audit/", audit.audit, name="audit"),
    path(P + "audit.csv", audit.audit_csv, name="audit_csv"),
    path(P + "emergency-rollback", emergency.emergency_rollback, name="emergency_rollback"),
    path(P + "force-original/clear-request", emergency.request_clear, name="clear_force_original"),
    path(P + "alerts/<int:alert_id>/acknowledge", alerts.acknowledge, name="alert_acknowledge"),
    path(P + "simulator/faults", alerts.simulator_faults, name="simulator_faults"),
    path(P + "runs/<int:run_id>/cancel", phases.cancel_run, name="run_cancel"),
    path(P + "checklist/<int:position>/tick", checklist.tick, name="checklist_tick"),
    path(P + "checklist/<int:position>/untick", checklist.untick, name="checklist_untick"),
    path(P + "phases/<slug:phase_key>/start", phases.start, name="phase_start"),
    path(P + "phases/<slug:phase_key>/request-promotion", phases.request_promotion, name="phase_request_promotion"),
    path(C, components.detail, name="component"),
    path(C + "retry", components.retry, name="component_retry"),
    path(C + "rollback", components.rollback, name="component_rollback"),
    path(C + "rollout/start", components.start_rollout, name="rollout_start"),
    path(C + "rollout/pause", components.pause_rollout, name="rollout_pause"),
    path(C + "rollout/resume", components.resume_rollout, name="rollout_resume"),
    path(C + "rollout/percentage", components.set_percentage, name="rollout_percentage"),
    path(C + "rollout/planned-rollback", components.planned_rollback, name="rollout_planned_rollback"),
    path(C + "rollout/switches", components.set_switches, name="rollout_switches"),
    path(A, approvals.detail, name="approval"),
    path(A + "approve", approvals.approve, name="approval_approve"),
    path(A + "reject", approvals.reject, name="approval_reject"),
]
