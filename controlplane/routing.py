"""Websocket URL routes, joined into the ASGI application in asgi.py."""

from django.urls import path

from controlplane import converters  # noqa: F401 - registers <plan:...>
from migrations_app import consumers

websocket_urlpatterns = [
    path("ws/plans/<plan:plan_key>/", consumers.PlanConsumer.as_asgi()),
]
