"""The phase run's decisions, on snapshots: no database, no worker."""

from migrations_app.engine.scheduler import Node, decide
from migrations_app.models.runs import ComponentRun, Run

S = ComponentRun.State


def graph(**states):
    """repo <- agent, trust <- coord; `states` overrides each one's state (default waiting)."""
    shape = {
        "repo": ((), "low"),
        "agent": (("repo",), "medium"),
        "trust": (("repo",), "medium"),
        "coord": (("agent", "trust"), "high"),
    }
    nodes = []
    for number, (name, (deps, risk)) in enumerate(shape.items(), start=1):
        state = states.get(name, S.WAITING)
        failed = state in (S.FAILED, S.ROLLBACK_FAILED)
        nodes.append(Node(id=number, name=name, risk=risk, state=state, depends_on=deps, failed=failed, reason="x"))
    return nodes


def test_only_components_whose_dependencies_completed_are_dispatched():
    assert decide(graph(), kind="phase", stop="").dispatch == [1]
    assert decide(graph(repo=S.COMPLETED), kind="phase", stop="").dispatch == [2, 3]
    assert decide(graph(repo=S.COMPLETED, agent=S.COMPLETED, trust=S.RUNNING), kind="phase", stop="").dispatch == []


def test_a_medium_failure_skips_its_dependents_transitively_and_the_run_ends_failed():
    decision = decide(graph(repo=S.COMPLETED, agent=S.COMPLETED, trust=S.FAILED), kind="phase", stop="")
    assert decision.skip == {4: "depends on trust, which failed"}
    assert decision.finish == Run.State.FAILED
    assert decision.summary == "failed. Completed: repo, agent. Failed: trust. Skipped: coord."


def test_a_dependency_outside_the_run_that_is_not_migrated_blocks_with_its_reason():
    nodes = [Node(id=1, name="x", risk="low", state=S.WAITING, blocked_by="depends on y, which is rolled back")]
    assert decide(nodes, kind="retry", stop="").skip == {1: "depends on y, which is rolled back"}


def test_a_high_risk_failure_aborts_and_unwinds_only_components_whose_dependents_are_undone():
    decision = decide(
        graph(repo=S.COMPLETED, agent=S.COMPLETED, trust=S.COMPLETED, coord=S.FAILED), kind="phase", stop=""
    )
    assert decision.abort == "coord (high risk) failed: x"
    assert decision.undo == [2, 3]  # not repo: agent and trust still hold it
    assert decision.finish == ""

    later = decide(
        graph(repo=S.COMPLETED, agent=S.ROLLED_BACK, trust=S.ROLLED_BACK, coord=S.FAILED),
        kind="phase",
        stop=Run.Stop.ABORT,
        stop_reason=decision.abort,
    )
    assert later.undo == [1]


def test_a_stopping_run_skips_what_has_not_started_and_ends_once_nothing_is_in_flight():
    decision = decide(
        graph(repo=S.COMPLETED, agent=S.RUNNING), kind="phase", stop=Run.Stop.CANCEL, stop_reason="cancelled by olga"
    )
    assert decision.skip == {
        3: "the run was cancelled: cancelled by olga",
        4: "the run was cancelled: cancelled by olga",
    }
    assert decision.undo == [] and decision.finish == ""

    done = decide(
        graph(repo=S.ROLLED_BACK, agent=S.ROLLED_BACK, trust=S.SKIPPED, coord=S.SKIPPED),
        kind="phase",
        stop=Run.Stop.CANCEL,
        stop_reason="cancelled by olga",
    )
    assert done.finish == Run.State.CANCELLED


def test_a_dependency_is_left_in_place_when_a_dependent_failed_to_roll_back():
    decision = decide(
        graph(repo=S.COMPLETED, agent=S.ROLLBACK_FAILED, trust=S.ROLLED_BACK, coord=S.SKIPPED),
        kind="phase",
        stop=Run.Stop.CANCEL,
        stop_reason="c",
    )
    assert decision.undo == []
    assert decision.finish == Run.State.CANCELLED
    assert "Completed: repo." in decision.summary and "Rollback failed: agent." in decision.summary


def test_a_rollback_run_unwinds_its_component_and_ends_completed_once_rolled_back():
    node = Node(id=7, name="alpha", risk="low", state=S.COMPLETED)
    assert decide([node], kind=Run.Kind.ROLLBACK, stop="").undo == [7]
    done = decide([Node(id=7, name="alpha", risk="low", state=S.ROLLED_BACK)], kind=Run.Kind.ROLLBACK, stop="")
    assert done.finish == Run.State.COMPLETED
