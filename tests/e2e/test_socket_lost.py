"""A page that loses its socket says so, and after reconnecting shows what it missed."""

import re

import pytest
from django.conf import settings
from django.db import connection
from playwright.sync_api import expect

from conftest import actor
from migrations_app import checklist
from tests.e2e.server import free_port, running_server


@pytest.mark.django_db(transaction=True)
def test_a_page_says_its_socket_is_lost_and_resyncs_after_reconnecting(
    browser, viewer, operator, demo_plan, screenshot, tmp_path
):
    from conftest import PASSWORD

    port, log = free_port(), tmp_path / "server.log"
    name, env = connection.settings_dict["NAME"], {"SECRET_KEY": settings.SECRET_KEY}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    with running_server(name, env, log_path=log, port=port) as url:
        page.goto(url + "/accounts/login/")
        page.fill("#id_username", viewer.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(url + "/plans/truststream-v4.2/")
        expect(page.locator("#socket-status")).to_have_text(re.compile("Live: updates arrive"))
        page.evaluate("window.notReloaded = true")

    expect(page.locator("#socket-status")).to_have_text(re.compile("Live updates lost: reconnecting"))
    screenshot(page, "07-socket-lost")
    # Ticked while the page could not hear it.
    checklist.tick(demo_plan.checklist.get(position=0), actor=actor(operator))

    with running_server(name, env, log_path=log, port=port):
        expect(page.locator("#socket-status")).to_have_text(re.compile("Live: updates arrive"), timeout=30_000)
        expect(page.locator("#checklist-item-0")).to_contain_text("Ticked by olga-operator")
        assert page.evaluate("window.notReloaded") is True
    context.close()
