"""`/metrics` for Prometheus: any valid API token, or an address in METRICS_ALLOWED_IPS."""

import ipaddress

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from migrations_app import tokens
from monitoring import prometheus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _allowed(request) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() == "bearer" and raw.strip() and tokens.authenticate(raw.strip()) is not None:
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(item, strict=False) for item in settings.METRICS_ALLOWED_IPS)


@login_not_required
@require_GET
def metrics(request):
    if not _allowed(request):
        response = JsonResponse(
            {
                "detail": "authentication required: send Authorization: Bearer TOKEN, or scrape from an address "
                "listed in METRICS_ALLOWED_IPS"
            },
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="switchyard"'
        return response
    return HttpResponse(prometheus.render(), content_type=CONTENT_TYPE)
