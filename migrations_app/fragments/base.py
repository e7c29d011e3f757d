"""Pages made of regions: one fragment, three uses.

A page (the plan overview, a component, an approval...) is a set of regions, each a
template partial whose root element carries the region's id. The same partial renders
inside the full page, answers an htmx GET for that region, and is pushed over the plan's
websocket with `hx-swap-oob` when an event touches it. A page loads its data lazily and
in a fixed number of queries, whatever the number of components or runs.
"""

from functools import cached_property

from django.template.loader import render_to_string
from django.utils import timezone

from migrations_app import access, broadcast
from migrations_app.broadcast import Event
from migrations_app.models import Approval, AuditEvent, Plan
from migrations_app.roles import Actor, Permission
from migrations_app.rollout.decide import MAX_ATTEMPTS, REQUIRED_PASSES

# Events whose payload says only "something changed": every region may depend on them.
EVERYTHING = frozenset({Event.PLAN_CHANGED})


class PlanPage:
    """A page of one plan, seen by one actor. Subclasses name their regions."""

    view = ""
    template = ""
    # region id -> template of the partial
    regions: dict[str, str] = {
        "plan-banner": "migrations_app/regions/banner.html",
    }
    # event -> regions it refreshes; `refresh_for` may refine this with the payload
    refresh: dict[str, tuple[str, ...]] = {
        Event.ROLLOUT_CHANGED: ("plan-banner",),
        Event.STABILITY_CHECKED: ("plan-banner",),
        Event.APPROVAL_CHANGED: ("plan-banner",),
    }

    def __init__(self, plan: Plan, actor: Actor, *, seq: int | None = None):
        # The sequence number is read before any state: every event numbered up to it was
        # committed before this page read what it shows (see broadcast.current_sequence).
        self.seq = broadcast.current_sequence(plan.pk) if seq is None else seq
        self.plan = Plan.objects.defer("source").get(pk=plan.pk)  # the plan file's text is not shown
        self.actor = actor
        self.now = timezone.now()

    # --- what every plan page shows ------------------------------------------------------

    @cached_property
    def can(self) -> dict[str, bool]:
        return {p.name.lower(): self.actor.can(p) for p in Permission}

    @cached_property
    def emergency_gate(self):
        return access.emergency_gate(self.actor)

    @cached_property
    def pending_clear(self) -> Approval | None:
        if not self.plan.force_original:
            return None
        return Approval.objects.filter(
            plan=self.plan, kind=Approval.Kind.CLEAR_FORCE_ORIGINAL, state=Approval.State.PENDING
        ).first()

    @cached_property
    def clear_gate(self):
        return access.clear_force_original_gate(self.actor, self.plan, self.pending_clear)

    @property
    def stability(self) -> dict:
        """Stability verification after an emergency rollback, as the banner shows it."""
        plan = self.plan
        return {
            "state": plan.stability,
            "label": plan.get_stability_display(),
            "attempts": plan.stability_attempts,
            "passes": plan.stability_passes,
            "max_attempts": MAX_ATTEMPTS,
            "required": REQUIRED_PASSES,
            "percent": round(100 * plan.stability_passes / REQUIRED_PASSES),
        }

    @cached_property
    def emergency_events(self) -> list[AuditEvent]:
        """The latest emergency rollback and what followed it (stability checks, result)."""
        if not self.plan.stability:
            return []  # never rolled back in an emergency: each one starts a stability verification
        return list(
            AuditEvent.objects.filter(plan=self.plan, action__contains="emergency")
            .only("at", "actor_name", "action", "reason", "target_label", "data")
            .order_by("-at", "-pk")[:6]
        )

    @property
    def socket_url(self) -> str:
        return f"/ws/plans/{self.plan.key}/?{self.socket_query}"

    @property
    def socket_query(self) -> str:
        return f"view={self.view}"

    @property
    def regions_url(self) -> str:
        return f"/plans/{self.plan.key}/live/?{self.socket_query}"

    # --- rendering ------------------------------------------------------------------------

    def context(self, **extra) -> dict:
        return {"page": self, "plan": self.plan, "actor": self.actor, "can": self.can, "now": self.now, **extra}

    def render_region(self, region: str, *, oob: bool = False, request=None) -> str:
        return render_to_string(self.regions[region], self.context(oob=oob), request=request)

    def render_regions(self, regions=None, *, oob: bool = True, request=None) -> str:
        regions = self.regions if regions is None else regions
        return "\n".join(self.render_region(r, oob=oob, request=request) for r in regions)

    def refresh_for(self, event: str, payload: dict) -> tuple[str, ...]:
        if event in EVERYTHING:
            return tuple(self.regions)
        regions = self.refresh.get(event, ())
        if event == Event.AUDIT_RECORDED and "emergency" in (payload.get("action") or ""):
            regions = (*regions, "plan-banner")
        return tuple(dict.fromkeys(r for r in regions if r in self.regions))


def merged(*maps: dict) -> dict:
    """Refresh tables merged: a region listed by either side is refreshed."""
    result: dict = {}
    for table in maps:
        for event, regions in table.items():
            result[event] = tuple(dict.fromkeys((*result.get(event, ()), *regions)))
    return result
