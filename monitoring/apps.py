import ipaddress
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        check_settings(settings)


def check_settings(config) -> None:
    """Monitoring's settings, refused loudly at start-up with the variable named."""
    url = config.ALERT_WEBHOOK_URL
    if url:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ImproperlyConfigured("ALERT_WEBHOOK_URL must be an http:// or https:// URL with a host")
    for item in config.METRICS_ALLOWED_IPS:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"METRICS_ALLOWED_IPS must be a comma-separated list of addresses or networks, not {item!r}"
            ) from None
