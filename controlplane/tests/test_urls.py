"""Every page and API call refuses an anonymous request (login redirect or 401)."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# The only things anyone may reach: the login page, the liveness probe, the API's
# description (which holds no data), and the admin's own login form.
PUBLIC = {"/accounts/login/", "/healthz", "/api/v1/openapi.json", "/admin/login/"}
# django-ninja's index of the API: answers 404 to everyone, holding nothing.
NOT_FOUND_FOR_EVERYONE = {"/api/v1/"}
# Read by machines (Prometheus), which cannot follow a login form: 401 in JSON, like the API.
MACHINE_ENDPOINTS = {"/metrics"}
SAMPLE_VALUES = {"plan_key": "truststream-v4.2", "component": "agent-service", "phase": "setup"}


def walk(resolver, prefix=""):
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from walk(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route


def example_path(route: str) -> str:
    """A concrete path for a route: converters filled with sample values, regex stripped."""
    import re

    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_VALUES.get(m.group(1), "1"), route)
    path = path.lstrip("^").rstrip("$").replace("\\Z", "")
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLE_VALUES.get(m.group(1), "1"), path)
    return "/" + path.replace("\\", "")


def all_paths():
    paths = sorted({example_path(route) for route in walk(get_resolver())})
    return [p for p in paths if p not in PUBLIC | NOT_FOUND_FOR_EVERYONE and "(" not in p and "[" not in p]


@pytest.mark.django_db
@pytest.mark.parametrize("path", all_paths())
def test_it_refuses_anonymous_requests(client, path):
    response = client.get(path)
    if path.startswith("/api/") or path in MACHINE_ENDPOINTS:
        assert response.status_code in (401, 405), f"{path} answered {response.status_code}"
    else:
        assert response.status_code == 302, f"{path} answered {response.status_code}"
        assert "/login/" in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", sorted(NOT_FOUND_FOR_EVERYONE))
def test_the_api_index_holds_nothing(client, path):
    assert client.get(path).status_code == 404


def test_the_walk_finds_the_dashboard_and_the_api():
    paths = all_paths()
    assert "/" in paths
    assert "/plans/truststream-v4.2/" in paths
    assert any(p.startswith("/api/v1/plans") for p in paths)
