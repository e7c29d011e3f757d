import os

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the control plane (HTTP and websockets) through the ASGI server."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args, host, port, **options):
        uvicorn.run(
            "controlplane.asgi:application", host=host, port=port, lifespan="off", log_level="warning", access_log=False
        )
