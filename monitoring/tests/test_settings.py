"""Monitoring's settings are refused at start-up, loudly, with the variable named."""

from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from monitoring.apps import check_settings


def config(**changes):
    return SimpleNamespace(**{"ALERT_WEBHOOK_URL": "", "METRICS_ALLOWED_IPS": [], **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ALERT_WEBHOOK_URL": "hooks.slack.com/services/T/B/X"}, "ALERT_WEBHOOK_URL must be an http:// or https://"),
        ({"ALERT_WEBHOOK_URL": "ftp://example.com/hook"}, "ALERT_WEBHOOK_URL must be an http:// or https://"),
        ({"METRICS_ALLOWED_IPS": ["10.0.0.0/8", "prometheus.local"]}, "METRICS_ALLOWED_IPS must be a comma-separated"),
    ],
)
def test_bad_monitoring_settings_are_refused(changes, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        check_settings(config(**changes))
