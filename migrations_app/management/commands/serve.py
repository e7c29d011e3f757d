import os
import signal
import sys

import uvicorn
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from controlplane.embedded import EmbeddedCelery

# How long Ctrl-C waits for running tasks to finish before leaving them: the engine's
# crash rules treat a step cut short like one whose worker died.
TASK_GRACE_SECONDS = 10


class Command(BaseCommand):
    help = (
        "Serve the control plane (HTTP and websockets) through the ASGI server. With no "
        "REDIS_URL, Celery's worker and beat run in threads of this process."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args, host, port, **options):
        # Channels' ProtocolTypeRouter does not speak lifespan: the embedded worker is
        # started and stopped around the server instead.
        config = uvicorn.Config(
            "controlplane.asgi:application",
            host=host,
            port=port,
            lifespan="off",
            log_level="warning",
            access_log=False,
            ws_per_message_deflate=False,
        )
        server = uvicorn.Server(config)

        # uvicorn handles SIGINT and SIGTERM while it serves, then restores the handlers it
        # found and raises the signal again: these end the server, not the process, so
        # that what follows it runs and the process exits 0.
        def stop_serving(signum, frame):
            server.should_exit = True

        signal.signal(signal.SIGINT, stop_serving)
        signal.signal(signal.SIGTERM, stop_serving)
        if settings.EMBEDDED:
            self.serve_embedded(server)
        else:
            server.run()

    def serve_embedded(self, server: uvicorn.Server) -> None:
        """1. one channel layer, made before two threads could race to make one each;
        2. the worker and beat, so that /healthz answering means tasks run;
        3. the server, until SIGINT or SIGTERM;
        4. beat and the worker stopped, running tasks given TASK_GRACE_SECONDS."""
        get_channel_layer()
        celery = EmbeddedCelery()
        try:
            celery.start()
        except RuntimeError as error:
            celery.stop(timeout=1)
            raise CommandError(str(error)) from None
        try:
            server.run()
        finally:
            # A second Ctrl-C while tasks finish means: now.
            signal.signal(signal.SIGINT, self.leave_now)
            signal.signal(signal.SIGTERM, self.leave_now)
            if celery.running_tasks():
                self.stderr.write(f"Stopping: waiting up to {TASK_GRACE_SECONDS} s for running tasks (Ctrl-C: now)")
            still_running = celery.stop(timeout=TASK_GRACE_SECONDS)
            if still_running:
                self.stderr.write(f"Left running: {', '.join(still_running)}")
                self.leave_now()
            self.stderr.write("Stopped.")

    def leave_now(self, *signal_args):
        # Task threads cannot be interrupted and the interpreter would wait for them at
        # exit; their transactions roll back when the process ends.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
