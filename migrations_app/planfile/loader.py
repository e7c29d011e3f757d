"""Writing a validated plan to the database, in one transaction.

Loading the same plan twice changes nothing. Reloading a changed plan updates it in
place and keeps its history; phases that have started keep their structure (their
components, steps and dependencies): a change to them is refused whole, naming each.
"""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from migrations_app import audit
from migrations_app.errors import Conflict
from migrations_app.models import Approval, ChecklistItem, Component, Phase, Plan, Rollout, Step
from migrations_app.roles import Actor, Permission
from migrations_app.states import PhaseState

from .schema import ComponentSpec, StepSpec
from .validate import FORWARD_ACTIONS, PlanSpec

ROLLOUT_FIELDS = ("steps", "approval_at", "interval_seconds", "fallback", "comparison", "health")


@dataclass
class LoadResult:
    plan: Plan
    created: bool = False
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.created or bool(self.changes)


def step_rows(step: StepSpec) -> dict:
    """A step's database fields from its spec: kind, forward and reverse actions."""
    kind = next(name for name in FORWARD_ACTIONS if getattr(step, name) is not None)
    forward = {kind: _action(getattr(step, kind))}
    reverse = None
    for name in ("sql", "http", "command"):
        value = getattr(step, f"reverse_{name}")
        if value is not None:
            reverse = {name: _action(value)}
    return {
        "name": step.name,
        "kind": kind,
        "forward": forward,
        "reverse": reverse,
        "database": step.database or "",
        "timeout_seconds": step.timeout_seconds,
    }


def _action(value):
    return value if isinstance(value, str) else value.model_dump(mode="json", by_alias=True, exclude_defaults=False)


def _structure(component: ComponentSpec | Component) -> dict:
    """What may not change once a component's phase has started."""
    if isinstance(component, Component):
        steps = [
            {k: getattr(s, k) for k in ("name", "kind", "forward", "reverse", "database", "timeout_seconds")}
            for s in component.steps.all()
        ]
        depends = sorted(d.name for d in component.depends_on.all())
        phase = component.phase.key
    else:
        steps = [step_rows(s) for s in component.steps]
        depends = sorted(component.depends_on)
        phase = component.phase
    return {"phase": phase, "depends_on": depends, "steps": steps}


def _structural_problems(plan: Plan, spec: PlanSpec) -> list[str]:
    problems = []
    new_components = {c.name: c for c in spec.spec.components}
    new_phases = {p.key: p for p in spec.spec.phases}
    new_order = [p.key for p in spec.spec.phases]
    for phase in plan.phases.exclude(state=PhaseState.PENDING).prefetch_related(
        "components__steps", "components__depends_on"
    ):
        label = f"phase {phase.key!r} has started ({phase.get_state_display().lower()})"
        if phase.key not in new_phases:
            problems.append(f"{label}: it cannot be removed")
            continue
        old_names = {c.name for c in phase.components.all()}
        new_names = {name for name, c in new_components.items() if c.phase == phase.key}
        for name in sorted(new_names - old_names):
            problems.append(f"{label}: component {name!r} cannot be added to it")
        for name in sorted(old_names - new_names):
            problems.append(f"{label}: component {name!r} cannot be removed or moved from it")
        for component in phase.components.all():
            if component.name not in new_names:
                continue
            old, new = _structure(component), _structure(new_components[component.name])
            for part in ("depends_on", "steps"):
                if old[part] != new[part]:
                    problems.append(f"{label}: the {part} of component {component.name!r} cannot change")
        if new_order.index(phase.key) != phase.position:
            problems.append(f"{label}: it cannot move from position {phase.position + 1}")
    return problems


def load_plan(spec: PlanSpec, source: str, *, actor: Actor) -> LoadResult:
    """Create or update the plan in one transaction; raises Conflict, writing nothing,
    when the change would alter a started phase's structure."""
    actor.require(Permission.ADMIN, "load plans")
    with transaction.atomic():
        plan = Plan.objects.select_for_update().filter(key=spec.key).first()
        if plan is not None and plan.source_sha256 == spec.digest:
            return LoadResult(plan=plan)
        created = plan is None
        if created:
            plan = Plan(key=spec.key)
        else:
            problems = _structural_problems(plan, spec)
            if problems:
                raise Conflict("the plan cannot be reloaded:\n" + "\n".join(f"- {p}" for p in problems))
        before_digest = plan.source_sha256
        changes: list[str] = []
        _write_plan(plan, spec, source)
        _write_checklist(plan, spec, changes)
        phases = _write_phases(plan, spec, changes)
        _write_components(plan, spec, phases, changes, actor)
        audit.record(
            actor=actor,
            action="plan.loaded" if created else "plan.reloaded",
            target=plan,
            before=None if created else {"sha256": before_digest},
            after={"sha256": spec.digest},
            data={"changes": changes},
        )
    return LoadResult(plan=plan, created=created, changes=changes)


def _write_plan(plan: Plan, spec: PlanSpec, source: str) -> None:
    header = spec.spec
    plan.name = header.name
    plan.description = header.description
    plan.auto_rollback = header.auto_rollback
    plan.approval_expiry_hours = header.approval_expiry_hours
    plan.rollout_defaults = header.rollout.model_dump(exclude_unset=True) if header.rollout else {}
    plan.source = source
    plan.source_sha256 = spec.digest
    if plan.pk:
        plan.reloaded_at = timezone.now()
    plan.save()


def _write_checklist(plan: Plan, spec: PlanSpec, changes: list[str]) -> None:
    existing = {item.position: item for item in plan.checklist.all()}
    for position, text in enumerate(spec.spec.checklist):
        item = existing.pop(position, None)
        if item is None:
            ChecklistItem.objects.create(plan=plan, position=position, text=text)
            changes.append(f"checklist item added: {text}")
        elif item.text != text:
            # A different item: whoever ticked the old text did not tick this one.
            ChecklistItem.objects.filter(pk=item.pk).update(text=text, checked_by=None, checked_at=None)
            changes.append(f"checklist item changed: {item.text} -> {text}")
    for item in existing.values():
        item.delete()
        changes.append(f"checklist item removed: {item.text}")


def _write_phases(plan: Plan, spec: PlanSpec, changes: list[str]) -> dict[str, Phase]:
    existing = {phase.key: phase for phase in plan.phases.all()}
    wanted = {p.key for p in spec.spec.phases}
    for key, phase in list(existing.items()):
        if key not in wanted:  # only pending phases get here
            phase.delete()
            del existing[key]
            changes.append(f"phase removed: {key}")
    # Positions are unique per plan: park them out of the way before reordering.
    for offset, phase in enumerate(existing.values()):
        Phase.objects.filter(pk=phase.pk).update(position=1000 + offset)
    result = {}
    for position, item in enumerate(spec.spec.phases):
        values = {
            "name": item.name,
            "description": item.description,
            "position": position,
            "risk": item.risk,
            "days_min": item.days[0],
            "days_max": item.days[1],
            "rollback_window_hours": item.rollback_window_hours,
            "approvals_required": item.approvals,
        }
        phase = existing.get(item.key)
        if phase is None:
            phase = Phase.objects.create(plan=plan, key=item.key, **values)
            if not _is_new(plan):
                changes.append(f"phase added: {item.key}")
        else:
            differs = [k for k, v in values.items() if k != "position" and getattr(phase, k) != v]
            for name, value in values.items():
                setattr(phase, name, value)
            phase.save(update_fields=list(values))
            if differs:
                changes.append(f"phase {item.key} changed: {', '.join(differs)}")
        result[item.key] = phase
    return result


def _is_new(plan: Plan) -> bool:
    return plan.reloaded_at is None


def _write_components(plan, spec: PlanSpec, phases: dict[str, Phase], changes: list[str], actor: Actor) -> None:
    existing = {c.name: c for c in plan.components.select_related("phase").prefetch_related("steps")}
    wanted = {c.name for c in spec.spec.components}
    for name, component in list(existing.items()):
        if name not in wanted:
            component.delete()
            del existing[name]
            changes.append(f"component removed: {name}")
    reloading = not _is_new(plan)
    by_name: dict[str, Component] = {}
    for position, item in enumerate(spec.spec.components):
        values = {
            "phase": phases[item.phase],
            "description": item.description,
            "position": position,
            "estimated_minutes": item.estimated_minutes,
            "risk": item.risk,
            "rollback_complexity": item.rollback_complexity,
            "traffic": item.traffic,
            "health_url": item.health_url,
        }
        component = existing.get(item.name)
        if component is None:
            component = Component.objects.create(plan=plan, name=item.name, **values)
            if reloading:
                changes.append(f"component added: {item.name}")
        else:
            differs = [k for k, v in values.items() if k != "position" and getattr(component, k) != v]
            for name, value in values.items():
                setattr(component, name, value)
            component.save(update_fields=list(values))
            if differs:
                changes.append(f"component {item.name} changed: {', '.join(differs)}")
        _write_steps(component, item, changes, reloading)
        _write_rollout(component, spec.rollouts.get(item.name), changes, actor, reloading)
        by_name[item.name] = component
    for item in spec.spec.components:
        component = by_name[item.name]
        wanted_deps = [by_name[name] for name in item.depends_on]
        if sorted(d.pk for d in component.depends_on.all()) != sorted(d.pk for d in wanted_deps):
            component.depends_on.set(wanted_deps)
            if reloading:
                changes.append(f"component {item.name} dependencies: {', '.join(item.depends_on) or 'none'}")


def _write_steps(component: Component, item: ComponentSpec, changes: list[str], reloading: bool) -> None:
    wanted = [step_rows(step) for step in item.steps]
    current = [
        {k: getattr(s, k) for k in ("name", "kind", "forward", "reverse", "database", "timeout_seconds")}
        for s in component.steps.all()
    ]
    if current == wanted:
        return
    # Only components of pending phases get here (started ones are refused above), and
    # pending components have no attempts, so replacing their steps loses no history.
    component.steps.all().delete()
    Step.objects.bulk_create(Step(component=component, position=i, **row) for i, row in enumerate(wanted))
    if reloading:
        changes.append(f"component {component.name} steps changed")


def _write_rollout(
    component: Component, settings: dict | None, changes: list[str], actor: Actor, reloading: bool
) -> None:
    rollout = Rollout.objects.filter(component=component).first()
    if settings is None:
        if rollout is not None:
            rollout.delete()
            changes.append(f"rollout of {component.name} removed")
        return
    if rollout is None:
        Rollout.objects.create(component=component, **{k: settings[k] for k in ROLLOUT_FIELDS})
        if reloading:
            changes.append(f"rollout of {component.name} added")
        return
    differs = [k for k in ROLLOUT_FIELDS if getattr(rollout, k) != settings[k]]
    if not differs:
        return
    for name in ROLLOUT_FIELDS:
        setattr(rollout, name, settings[name])
    rollout.save(update_fields=list(ROLLOUT_FIELDS))
    changes.append(f"rollout of {component.name} changed: {', '.join(differs)}")
    # Approvers agreed to the old settings, not to these.
    for approval in Approval.objects.filter(rollout=rollout, state=Approval.State.PENDING):
        Approval.objects.filter(pk=approval.pk).update(
            state=Approval.State.INVALIDATED,
            decided_at=timezone.now(),
            decision_reason=f"rollout settings changed ({', '.join(differs)})",
        )
        audit.record(
            actor=actor,
            action="approval.invalidated",
            target=approval,
            before={"state": "pending"},
            after={"state": "invalidated"},
            reason=f"rollout settings changed ({', '.join(differs)})",
        )
