"""What a run does next, decided from a snapshot of its components. No ORM here: the
phase run (`phaserun.advance`) takes the snapshot under the run's lock, asks `decide`,
and applies the answer with conditional updates.

The rules, from the procedure's component plan and its risk policy:
- a component starts when every dependency has completed (in this run or before it);
- a failed low or medium component has rolled itself back; its dependents are skipped,
  with the reason, and everything else goes on;
- a failed high-risk component aborts the run: nothing new starts, and what the run
  completed is rolled back in reverse dependency order (a component only once every
  dependent of it in the run has been rolled back or never ran);
- a cancelled run does the same as an aborted one, for the operator's reason.
"""

from dataclasses import dataclass, field

from migrations_app.models.runs import ComponentRun, Run

S = ComponentRun.State
IN_FLIGHT = frozenset(ComponentRun.IN_FLIGHT)
# A dependent in one of these holds nothing of its dependency any more.
UNDONE = frozenset({S.FAILED, S.ROLLED_BACK, S.SKIPPED})
DEPENDENCY_LOST = {
    S.FAILED: "failed",
    S.ROLLED_BACK: "was rolled back",
    S.ROLLBACK_FAILED: "failed to roll back",
    S.SKIPPED: "was skipped",
}


@dataclass(frozen=True)
class Node:
    id: int
    name: str
    risk: str
    state: str
    depends_on: tuple[str, ...] = ()  # dependencies that are part of this run
    blocked_by: str = ""  # a dependency outside the run that is not migrated, in words
    failed: bool = False  # its forward steps failed in this run
    reason: str = ""


@dataclass
class Decision:
    dispatch: list[int] = field(default_factory=list)  # start its forward steps
    undo: list[int] = field(default_factory=list)  # run its reverse steps
    skip: dict[int, str] = field(default_factory=dict)  # with the reason
    abort: str = ""  # set when this decision aborts the run: why
    finish: str = ""  # the run's final state, once nothing is left to do
    summary: str = ""


def decide(nodes: list[Node], *, kind: str, stop: str, stop_reason: str = "") -> Decision:
    state = {node.name: node.state for node in nodes}
    decision = Decision()
    if not stop:
        failed_high = next((n for n in nodes if n.failed and n.risk == "high"), None)
        if failed_high is not None:
            stop = Run.Stop.ABORT
            stop_reason = decision.abort = f"{failed_high.name} (high risk) failed: {failed_high.reason}"
    if stop or kind == Run.Kind.ROLLBACK:  # a rollback run unwinds its one component
        _unwind(nodes, state, decision, stop, stop_reason)
    else:
        _go_on(nodes, state, decision)
    if not any(s in IN_FLIGHT or s == S.WAITING for s in state.values()):
        decision.finish = _final_state(kind, stop, state)
        decision.summary = summarize(nodes, state, decision.finish, stop_reason)
    return decision


def _go_on(nodes: list[Node], state: dict, decision: Decision) -> None:
    # Repeat until nothing changes: skipping one component can settle its dependents.
    changed = True
    while changed:
        changed = False
        for node in nodes:
            if state[node.name] != S.WAITING:
                continue
            lost = next((d for d in node.depends_on if state[d] in DEPENDENCY_LOST), None)
            if node.blocked_by:
                _skip(node, node.blocked_by, state, decision)
            elif lost is not None:
                _skip(node, f"depends on {lost}, which {DEPENDENCY_LOST[state[lost]]}", state, decision)
            elif all(state[d] == S.COMPLETED for d in node.depends_on):
                decision.dispatch.append(node.id)
                state[node.name] = S.QUEUED
            else:
                continue
            changed = True


def _unwind(nodes: list[Node], state: dict, decision: Decision, stop: str, stop_reason: str) -> None:
    why = f"the run was {'cancelled' if stop == Run.Stop.CANCEL else 'aborted'}: {stop_reason}".rstrip(": ")
    for node in nodes:
        # A queued component that a worker has already claimed stays running: the
        # conditional update that applies this skip finds it gone and changes nothing.
        if state[node.name] in (S.WAITING, S.QUEUED):
            _skip(node, why, state, decision)
    dependents = {node.name: [n.name for n in nodes if node.name in n.depends_on] for node in nodes}
    for node in nodes:
        if state[node.name] == S.COMPLETED and all(state[d] in UNDONE for d in dependents[node.name]):
            decision.undo.append(node.id)
            state[node.name] = S.UNDO_QUEUED


def _skip(node: Node, reason: str, state: dict, decision: Decision) -> None:
    decision.skip[node.id] = reason
    state[node.name] = S.SKIPPED


def _final_state(kind: str, stop: str, state: dict) -> str:
    if kind == Run.Kind.ROLLBACK:
        return Run.State.COMPLETED if all(s == S.ROLLED_BACK for s in state.values()) else Run.State.FAILED
    if stop == Run.Stop.CANCEL:
        return Run.State.CANCELLED
    if stop == Run.Stop.ABORT:
        return Run.State.ABORTED
    return Run.State.COMPLETED if all(s == S.COMPLETED for s in state.values()) else Run.State.FAILED


def summarize(nodes: list[Node], state: dict, finish: str, stop_reason: str = "") -> str:
    """How the run ended, in words: `aborted: X (high risk) failed: ... Completed: a.
    Rolled back: b, c. Skipped: d.`"""
    groups: dict[str, list[str]] = {}
    for node in nodes:
        groups.setdefault(state[node.name], []).append(node.name)
    head = finish if not stop_reason else f"{finish}: {stop_reason}"
    parts = [head.rstrip(".") + "."]
    for label, names in (
        ("Completed", groups.get(S.COMPLETED)),
        ("Failed", groups.get(S.FAILED)),
        ("Rolled back", groups.get(S.ROLLED_BACK)),
        ("Rollback failed", groups.get(S.ROLLBACK_FAILED)),
        ("Skipped", groups.get(S.SKIPPED)),
    ):
        if names:
            parts.append(f"{label}: {', '.join(names)}.")
    return " ".join(parts)
