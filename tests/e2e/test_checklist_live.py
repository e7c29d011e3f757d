"""The readiness checklist in a browser: an operator ticks it and another browser sees the
ticks arrive without reloading; role-disabled buttons say why; the audit page filters.
The later stages of a migration are in test_migration_flow.py."""

import re

import pytest
from playwright.sync_api import expect

PLAN_URL = "/plans/truststream-v4.2/"
LIVE = re.compile(r"Live: updates arrive")


def tick(page, item):
    page.get_by_role("button", name=f"Tick: {item.text}", exact=True).click()
    # The actor's own page first: the tick was taken before anyone else can see it.
    expect(page.locator(f"#checklist-item-{item.position}")).to_contain_text("Ticked by olga-operator")


def open_plan(page):
    page.goto(PLAN_URL)
    expect(page.locator("#socket-status")).to_have_text(LIVE)


def assert_phase_names_fit_their_chart(page):
    labels = page.locator("#chart-phases .ytick text")
    expect(labels).to_have_count(5)
    chart = page.locator("#chart-phases").bounding_box()
    for label in labels.all():
        box = label.bounding_box()
        outside = chart["x"] - box["x"]
        assert outside <= 0, f"{label.text_content()!r} starts {outside:.0f} px left of its chart"


@pytest.mark.django_db(transaction=True)
def test_ticks_by_an_operator_arrive_live_in_a_second_browser(browser_as, operator, viewer, demo_plan, screenshot):
    watcher = browser_as(viewer)
    open_plan(watcher)
    # The demo's long phase names ("Production Deployment") label the timeline in full.
    assert_phase_names_fit_their_chart(watcher)
    watcher.evaluate("window.notReloaded = true")
    actor = browser_as(operator)
    open_plan(actor)
    screenshot(actor, "01-operator-before-ticking")

    items = demo_plan.checklist.order_by("position")
    for item in items[:3]:
        tick(actor, item)
        expect(watcher.locator(f"#checklist-item-{item.position}")).to_contain_text("Ticked by olga-operator")
    expect(actor.locator("#flash")).to_contain_text("Ticked: ")
    expect(watcher.locator("#audit-latest")).to_contain_text("checklist.ticked")
    assert watcher.evaluate("window.notReloaded") is True
    # The exact time is on hover; the text is relative.
    when = watcher.locator("#checklist-item-0 time")
    expect(when).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    expect(when).to_have_text(re.compile(r"(\d+ s|\d+ min) ago"))
    screenshot(watcher, "02-viewer-sees-ticks-live")

    for item in items[3:]:
        tick(actor, item)
        expect(watcher.locator(f"#checklist-item-{item.position}")).to_contain_text("Ticked by olga-operator")
    expect(watcher.locator("#checklist h2")).to_contain_text("✔ complete")
    # Phase 1's "Start phase" no longer waits for the checklist.
    expect(actor.locator("#phase-setup")).not_to_contain_text("the readiness checklist is not complete")
    expect(actor.locator("#btn-start-setup")).to_be_enabled()
    screenshot(actor, "03-checklist-complete")


@pytest.mark.django_db(transaction=True)
def test_buttons_a_role_cannot_use_are_disabled_with_the_reason(browser_as, viewer, operator, demo_plan, screenshot):
    page = browser_as(viewer)
    open_plan(page)
    tick = page.get_by_role("button", name=re.compile(r"^Tick: Code repository"))
    expect(tick).to_be_disabled()
    expect(page.locator("#why-checklist")).to_have_text("Ticking is not available: needs the operator or admin role")
    emergency = page.get_by_role("button", name="Emergency rollback")
    expect(emergency).to_be_disabled()
    expect(page.locator("#why-emergency")).to_contain_text("needs the operator or admin role")
    screenshot(page, "04-viewer-buttons-disabled")

    page = browser_as(operator, width=820, height=1100)  # tablet width
    open_plan(page)
    page.locator("#emergency summary").click()
    expect(page.locator("#emergency-reason")).to_be_visible()
    page.get_by_role("button", name="Roll back all traffic now").click()
    # The reason is required: the browser does not send the form without it.
    expect(page.locator("#flash")).to_be_empty()
    page.fill("#emergency-reason", "error rate climbing on checkout")
    page.get_by_role("button", name="Roll back all traffic now").click()
    expect(page.locator("#flash")).to_contain_text("Emergency rollback done")
    expect(page.locator("#plan-banner")).to_contain_text("All traffic is forced to the original implementation")
    screenshot(page, "05-operator-emergency-confirmation-tablet")


@pytest.mark.django_db(transaction=True)
def test_the_audit_page_filters(browser_as, operator, viewer, demo_plan, screenshot):
    actor = browser_as(operator)
    open_plan(actor)
    first, second = demo_plan.checklist.order_by("position")[:2]
    actor.get_by_role("button", name=f"Tick: {first.text}", exact=True).click()
    expect(actor.locator("#checklist-item-0")).to_contain_text("Ticked by")
    actor.get_by_role("button", name=f"Untick: {first.text}", exact=True).click()
    expect(actor.locator("#checklist-item-0")).to_contain_text("Not ticked")
    actor.get_by_role("button", name=f"Tick: {second.text}", exact=True).click()
    expect(actor.locator("#checklist-item-1")).to_contain_text("Ticked by")

    page = browser_as(viewer)
    page.goto(PLAN_URL + "audit/")
    rows = page.locator("#audit-events tbody tr")
    expect(rows).to_have_count(4)  # plan.loaded, two ticks, one untick
    page.fill("input[name=action]", "checklist.unticked")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("olga-operator")
    page.fill("input[name=action]", "checklist")
    page.fill("input[name=actor]", "olga-operator")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(3)
    expect(page.get_by_role("link", name="Export CSV")).to_have_attribute(
        "href", re.compile(r"audit\.csv\?actor=olga-operator&action=checklist")
    )
    screenshot(page, "06-audit-filtered")
