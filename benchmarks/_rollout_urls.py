"""The product's URLs plus /bench/minimal, for benchmarks/rollout.py only."""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import path

from controlplane.urls import urlpatterns as product_urlpatterns


@login_not_required
def minimal(request):
    """The least a Django JSON view can do: the baseline."""
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/minimal", minimal), *product_urlpatterns]
