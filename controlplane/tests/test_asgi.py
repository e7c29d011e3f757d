"""The server's start: every template compiled before the first request."""

from django.template import engines

from controlplane.asgi import compile_templates


def test_the_server_compiles_each_template_with_its_own_engine():
    compile_templates()  # a Jinja2 partial read as a Django template would raise here
    compiled = {name for _, name in engines["jinja2"].env.cache}
    assert {"migrations_app/traffic_card.html", "migrations_app/component_rows.html"} <= compiled
