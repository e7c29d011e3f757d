"""The HTTP API under /api/v1/: bearer tokens or a browser session, JSON errors.

Errors are `{"detail": ...}` with the status the error calls for (DESIGN.md). Each app
adds its endpoints as a router; this module only wires them together.
"""

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie, HttpBearer

from controlplane import __version__
from migrations_app import tokens
from migrations_app.errors import DomainError
from migrations_app.roles import Actor


class BearerToken(HttpBearer):
    """`Authorization: Bearer TOKEN`, a token made by `manage.py createtoken`."""

    def authenticate(self, request: HttpRequest, token: str):
        api_token = tokens.authenticate(token)
        if api_token is None:
            return None
        request.actor = Actor.for_token(api_token)
        return request.actor


class BrowserSession(APIKeyCookie):
    """The dashboard's own session; unsafe methods need the CSRF token as well."""

    param_name = "sessionid"

    def __init__(self):
        super().__init__(csrf=True)

    def authenticate(self, request: HttpRequest, key):
        if not request.user.is_authenticated:
            return None
        request.actor = Actor.for_user(request.user)
        return request.actor


api = NinjaAPI(
    title="Switchyard",
    version=__version__,
    description="Control plane for phased, zero-downtime migrations.",
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url=None,
    auth=[BearerToken(), BrowserSession()],
)


@api.exception_handler(DomainError)
def domain_error(request, error: DomainError):
    return api.create_response(request, {"detail": error.message}, status=error.status_code)


@api.exception_handler(AuthenticationError)
def unauthenticated(request, error):
    response = api.create_response(
        request, {"detail": "authentication required: send Authorization: Bearer TOKEN"}, status=401
    )
    response["WWW-Authenticate"] = 'Bearer realm="switchyard"'
    return response


# Each part of the product brings its own router.
api.add_router("/", "migrations_app.api.router")
api.add_router("/", "migrations_app.engine.api.router")
api.add_router("/", "migrations_app.rollout.api.router")
api.add_router("/", "monitoring.api.router")
api.add_router("/", "controlplane.topology_api.router")
