"""ASGI entry point: HTTP through Django, websockets through Channels.

Websockets pass the allowed-hosts origin check and the session authentication; each
consumer then refuses anonymous users and plans the user may not see.
"""

import gc
import os
from pathlib import Path

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - needs the app registry
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from controlplane.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)


def compile_templates() -> None:
    """Compile the project's templates now (each engine keeps them), so that the first page
    and the first live event after a start are not the slow ones."""
    from django.template import engines

    directories = {Path(directory): engine for engine in engines.all() for directory in engine.dirs}
    for directory, engine in directories.items():
        # The Jinja2 partials sit inside the Django templates' directory (templates/jinja2/).
        others = [other for other in directories if directory in other.parents]
        for path in sorted(directory.rglob("*.html")):
            if not any(other in path.parents for other in others):
                engine.get_template(path.relative_to(directory).as_posix())


compile_templates()

# Everything loaded so far lives as long as the process: keep it out of the collector's
# full passes, which otherwise stall the event loop (and every open socket) for ~100 ms.
gc.freeze()
