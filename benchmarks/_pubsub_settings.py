"""The control plane's settings with the Redis pub/sub channel layer, for comparing
websocket fan-out in benchmarks/dashboard.py (one PUBLISH per event and web process,
instead of one list entry per socket)."""

from controlplane.settings import *  # noqa: F403

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": CHANNEL_LAYERS["default"]["CONFIG"],  # noqa: F405
    }
}
