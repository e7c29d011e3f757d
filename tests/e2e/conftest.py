"""Browser tests: Playwright driving Debian's Chromium against the real ASGI server.

The server runs as a subprocess on the test database (rows arranged by a transactional
test are committed, so it sees them) and on the same Redis, so events sent from this
process reach its sockets. Screenshots of each stage go to test-artifacts/.
"""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.e2e.server import ROOT, running_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def browser():
    """Per module: Playwright's sync API keeps an event loop running in this thread while
    it lives, which the asyncio tests of other modules must not find."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: make browser (as root) installs it")
    from playwright.sync_api import sync_playwright

    # The ORM calls a test makes between browser steps are ordinary blocking calls, made
    # while that loop exists: Django's async guard would refuse them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
    log = tmp_path_factory.mktemp("server") / "server.log"
    with running_server(name, {"SECRET_KEY": settings.SECRET_KEY}, log_path=log) as url:
        yield url


@pytest.fixture
def screenshot():
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str):
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def browser_as(browser, server):
    """`browser_as(user)`: a page in a fresh browser context, logged in through the form."""
    from conftest import PASSWORD

    contexts = []

    def login(user, width=1280, height=900):
        context = browser.new_context(base_url=server, viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto("/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server + "/")
        return page

    yield login
    for context in contexts:
        context.close()
