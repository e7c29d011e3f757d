"""A migration in the browser, stage by stage, against the real server with the real Celery
worker and beat: checklist and phase run, promotion and four eyes, a live traffic rollout,
the health gate rolling back under a fault, and the emergency button.

Each stage is its own test: the stages before it are arranged through the services (the
worker runs the phases meanwhile), the stage itself is done in the browser."""

import os
import re
import shutil

import pytest
from django.conf import settings
from django.db import connection
from playwright.sync_api import expect

from tests.e2e import flow
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.server import ROOT, running_server, running_workers

LIVE = re.compile(r"Live: updates arrive")
# Short waits where the procedure's are long: stability checks 1 s apart, a quick step down.
FAST = {"STABILITY_CHECK_INTERVAL_SECONDS": "1", "STABILITY_WINDOW_SECONDS": "5", "PLANNED_ROLLBACK_STEP_SECONDS": "1"}


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    """The server, with a Celery worker and beat beside it, on the test database and Redis."""
    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
    logs = tmp_path_factory.mktemp("flow")
    env = {"SECRET_KEY": settings.SECRET_KEY, **FAST}
    with (
        running_workers(name, env, log_path=logs / "celery.log", schedule_path=logs / "beat-schedule"),
        running_server(name, env, log_path=logs / "server.log") as url,
    ):
        yield url


def open_page(page, path=flow.PLAN_URL):
    page.goto(path)
    expect(page.locator("#socket-status")).to_have_text(LIVE)
    page.evaluate("window.notReloaded = true")


def not_reloaded(*pages):
    for page in pages:
        assert page.evaluate("window.notReloaded") is True


@pytest.mark.django_db(transaction=True)
def test_an_operator_ticks_the_checklist_starts_phase_one_and_watches_its_steps_arrive(
    browser_as, operator, viewer, screenshot
):
    plan = flow.load()
    watcher = browser_as(viewer)
    open_page(watcher, flow.PLAN_URL + "components/ledger/")
    actor = browser_as(operator)
    open_page(actor)
    start = actor.locator("#btn-start-prepare")
    expect(start).to_be_disabled()
    expect(actor.locator("#why-start-prepare")).to_contain_text("the readiness checklist is not complete")

    for item in plan.checklist.order_by("position"):
        actor.get_by_role("button", name=f"Tick: {item.text}", exact=True).click()
        expect(actor.locator(f"#checklist-item-{item.position}")).to_contain_text("Ticked by olga-operator")
    expect(start).to_be_enabled()
    screenshot(actor, "10-checklist-ticked-start-enabled")

    start.click()
    expect(actor.locator("#flash")).to_contain_text("Prepare started: run ")
    # The worker runs the steps; their progress and output arrive in both browsers.
    expect(watcher.locator("#steps")).to_contain_text("copied batch 3 of 6", timeout=30_000)
    expect(actor.locator("#component-ledger")).to_contain_text(re.compile(r"[12] / 2 steps"), timeout=30_000)
    screenshot(watcher, "11-component-page-live-output")
    expect(actor.locator("#component-ledger")).to_contain_text("2 / 2 steps", timeout=30_000)
    expect(actor.locator("#component-ledger")).to_contain_text("✔ Migrated")
    expect(watcher.locator("#attempts")).to_contain_text("ledger agrees")
    expect(watcher.locator("#steps")).to_contain_text("copied batch 6 of 6")
    not_reloaded(actor, watcher)
    screenshot(actor, "12-phase-one-migrated")


@pytest.mark.django_db(transaction=True)
def test_a_promotion_is_requested_and_approved_in_a_second_browser_four_eyes(
    browser_as, operator, admin_user, approver, screenshot
):
    plan = flow.load()
    flow.tick_all(plan, operator)
    flow.run_phase("prepare", operator)

    requester = browser_as(admin_user)
    open_page(requester)
    expect(requester.locator("#phase-prepare .gates")).to_contain_text("✔ met: all components migrated")
    requester.locator("#btn-promote-prepare").click()
    expect(requester.locator("#flash")).to_contain_text("Promotion of Prepare requested")
    request = flow.pending_promotion("prepare")
    requester.get_by_role("link", name=re.compile("Promotion awaiting approval")).click()
    expect(requester.locator("#socket-status")).to_have_text(LIVE)
    requester.evaluate("window.notReloaded = true")
    # The requester may approve in general (admin), but not their own request.
    expect(requester.locator("#btn-approve")).to_be_disabled()
    expect(requester.locator("#why-approve")).to_contain_text("requested this and may not approve it")
    expect(requester.locator("#four-eyes")).to_contain_text("You requested this")
    screenshot(requester, "13-requester-cannot-approve")

    overview = browser_as(operator)
    open_page(overview)
    expect(overview.locator("#btn-start-cutover")).to_be_disabled()

    deciding = browser_as(approver)
    open_page(deciding, f"{flow.PLAN_URL}approvals/{request.pk}/")
    expect(deciding.locator("#approval")).to_contain_text("✔ met: all components migrated")
    deciding.fill("#reason-approve", "ledger counts checked")
    deciding.locator("#btn-approve").click()
    expect(deciding.locator("#flash")).to_contain_text("Approved: the change is applied.")

    # Both pages move on, live: the request approved, and phase two ready to start.
    expect(requester.locator("#approval")).to_contain_text("✔ Approved")
    expect(requester.locator("#votes")).to_contain_text("anna-approver")
    expect(overview.locator("#phase-prepare")).to_contain_text("✔ Promoted")
    expect(overview.locator("#btn-start-cutover")).to_be_enabled()
    not_reloaded(requester, overview)
    screenshot(overview, "14-next-phase-ready")


@pytest.mark.django_db(transaction=True)
def test_a_traffic_rollout_moves_live_in_every_browser(
    server, browser_as, operator, admin_user, approver, viewer, screenshot
):
    plan = flow.load()
    flow.ready_for_traffic(plan, operator, admin_user, approver)
    token = flow.service_token()
    flow.report_metrics(server, token, samples=40, errors=0)

    watcher = browser_as(viewer)
    open_page(watcher)
    actor = browser_as(operator)
    open_page(actor)
    card = watcher.locator("#traffic-checkout")
    expect(card.locator("[data-percentage]")).to_have_text("0%")
    actor.locator("#btn-rollout-start-checkout").click()
    expect(actor.locator("#flash")).to_contain_text("checkout: rollout started.")
    expect(card.locator("[data-percentage]")).to_have_text("25%")
    expect(card).to_contain_text("✔ Healthy")
    screenshot(watcher, "15-rollout-at-25")

    flow.wait_for(lambda: flow.percentage() >= 50, "the rollout to reach 50%", poke=flow.reconcile_now)
    expect(card.locator("[data-percentage]")).to_have_text(re.compile(r"^(50|100)%$"))
    flow.report_metrics(server, token, samples=20, errors=0)
    flow.wait_for(lambda: flow.percentage() == 100, "the rollout to reach 100%", poke=flow.reconcile_now)
    expect(card.locator("[data-percentage]")).to_have_text("100%")
    expect(actor.locator("#traffic-checkout [data-percentage]")).to_have_text("100%")
    expect(watcher.locator("#audit-latest")).to_contain_text("rollout.advanced")
    not_reloaded(actor, watcher)
    screenshot(watcher, "16-rollout-at-100")
    actor.set_viewport_size({"width": 1280, "height": 1100})
    actor.evaluate("window.scrollTo(0, 0)")
    # The README's picture: kept as an artefact; UPDATE_DOCS_SCREENSHOT=1 refreshes the committed one.
    overview = ARTIFACTS / "dashboard.png"
    actor.screenshot(path=str(overview), full_page=False)
    assert overview.stat().st_size < 300 * 1024  # small enough to commit beside the README
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        shutil.copyfile(overview, ROOT / "docs" / "dashboard.png")


@pytest.mark.django_db(transaction=True)
def test_an_injected_fault_makes_the_health_gate_roll_back_and_alert_both_browsers(
    server, browser_as, operator, admin_user, approver, viewer, screenshot
):
    plan = flow.load()
    rollout = flow.ready_for_traffic(plan, operator, admin_user, approver)
    token = flow.service_token()
    # No samples yet: the controller does not judge (nor advance) without enough of them.
    flow.start_rollout(rollout, operator)

    pages = [browser_as(operator), browser_as(viewer)]
    for page in pages:
        open_page(page)
        expect(page.locator("#traffic-checkout [data-percentage]")).to_have_text("25%")
    # The operator is half-way through typing when the card is swapped live: the panel stays
    # open and the words stay.
    operator_page = pages[0]
    operator_page.locator("#more-checkout summary").click()
    operator_page.fill("#reason-comparison-checkout", "shadow the new version")
    # The fault: the new implementation fails half its requests, as reported by the data plane.
    flow.report_metrics(server, token, samples=60, errors=30)
    flow.wait_for(lambda: flow.percentage() == 0, "the health gate to roll back", poke=flow.reconcile_now)
    for page in pages:
        expect(page.locator("#traffic-checkout [data-percentage]")).to_have_text("0%")
        expect(page.locator("#traffic-checkout")).to_contain_text("↺ Rolled back")
        expect(page.locator("#traffic-checkout .why-last")).to_contain_text("error rate")
        expect(page.locator("#alerts")).to_contain_text("✖ Critical")
        expect(page.locator("#alerts")).to_contain_text("automatic rollback: checkout rolled back")
    not_reloaded(*pages)
    expect(operator_page.locator("#more-checkout")).to_have_attribute("open", "")
    expect(operator_page.locator("#reason-comparison-checkout")).to_have_value("shadow the new version")
    screenshot(pages[1], "17-health-gate-rolled-back-viewer")
    screenshot(pages[0], "18-health-gate-rolled-back-operator")

    pages[0].get_by_role("button", name=re.compile("^Acknowledge: automatic rollback")).click()
    expect(pages[1].locator("#alerts")).not_to_contain_text("automatic rollback: checkout rolled back")


@pytest.mark.django_db(transaction=True)
def test_the_emergency_button_puts_every_component_at_zero_everywhere_within_a_second(
    server, browser_as, operator, admin_user, approver, viewer, screenshot
):
    plan = flow.load()
    rollout = flow.ready_for_traffic(plan, operator, admin_user, approver)
    token = flow.service_token()
    flow.start_rollout(rollout, operator)  # held at 25%: no samples to judge yet
    assert flow.snapshot(server, token)["components"]["checkout"]["percentage"] == 25

    watcher = browser_as(viewer)
    open_page(watcher)
    actor = browser_as(operator)
    open_page(actor)
    actor.locator("#emergency summary").click()
    actor.fill("#emergency-reason", "checkout errors climbing")
    actor.get_by_role("button", name="Roll back all traffic now").click()
    expect(actor.locator("#flash")).to_contain_text("Emergency rollback done", timeout=2_000)
    # From the operator's confirmation: the data plane's snapshot and both browsers, within a second.
    data_plane = flow.snapshot(server, token)
    assert data_plane["force_original"] is True
    assert {name: c["percentage"] for name, c in data_plane["components"].items()} == {"checkout": 0}
    for page in (actor, watcher):
        expect(page.locator("#traffic-checkout [data-percentage]")).to_have_text("0%", timeout=1_000)
        expect(page.locator("#plan-banner")).to_contain_text("All traffic is forced to the original", timeout=1_000)
    # Stability verification runs on the worker; its progress arrives live.
    expect(watcher.locator("#stability")).to_contain_text(re.compile(r"check [1-9]\d* of at most 10"), timeout=15_000)
    expect(watcher.locator("#stability")).to_contain_text("✔ stable", timeout=30_000)
    screenshot(watcher, "19-emergency-rollback-verified")

    actor.fill("#reason-clear-force", "checkout fixed and redeployed")
    actor.locator("#btn-clear-force").click()
    expect(actor.locator("#flash")).to_contain_text("Clearing force-original now needs approval")
    expect(watcher.locator("#plan-banner")).to_contain_text("Clearing force-original awaits approval")
    not_reloaded(actor, watcher)
    screenshot(actor, "20-clear-force-original-requested")
