"""How dashboard views answer: a page or one of its regions, and the outcome of a button.

A button posts with htmx when JavaScript runs (the answer is a message swapped into the
page's flash area, then the page re-syncs its regions) and as a plain form otherwise
(redirect back with the message). Refusals carry the service's own words and status.
"""

from functools import wraps

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from migrations_app.access import actor_for
from migrations_app.errors import DomainError, NotAllowed
from migrations_app.fragments import PlanPage
from migrations_app.roles import ROLE_REQUIRED_FOR, Permission


def reason_of(request) -> str:
    return request.POST.get("reason", "").strip()


def page_response(request, page: PlanPage, status: int = 200) -> HttpResponse:
    """The full page, or with htmx and `?region=ID` just that region (the same partial)."""
    region = request.GET.get("region")
    if request.htmx and region in page.regions:
        return HttpResponse(page.render_region(region, request=request), status=status)
    return render(request, page.template, page.context(), status=status)


def regions_response(request, page: PlanPage) -> HttpResponse:
    """Every region of the page as hx-swap-oob, for a browser that re-syncs."""
    response = HttpResponse(page.render_regions(request=request))
    response["X-Live-Seq"] = str(page.seq)
    response["Cache-Control"] = "no-store"
    return response


def button(permission: Permission, doing: str):
    """A POST-only view for a dashboard button: the role is checked first (the service
    checks it again), and any refusal is answered in the operator's words."""

    def decorator(view):
        @require_POST
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                actor = actor_for(request)
                if not actor.can(permission):
                    raise NotAllowed(f"{actor.name} may not {doing}: it needs {ROLE_REQUIRED_FOR[permission]}")
                return view(request, *args, **kwargs)
            except DomainError as error:
                return refused(request, error)

        return wrapper

    return decorator


def done(request, message: str, back_to: str) -> HttpResponse:
    if request.htmx:
        response = HttpResponse(_flash(message, "ok"))
        response["HX-Trigger"] = "sy:resync"
        return response
    messages.success(request, message)
    return HttpResponseRedirect(_safe_next(request, back_to), status=303)


def refused(request, error: DomainError) -> HttpResponse:
    if request.htmx:
        response = HttpResponse(_flash(error.message, "error"), status=error.status_code)
        response["HX-Reswap"] = "none"
        return response
    context = {"message": error.message, "status": error.status_code, "back": _safe_next(request, "/")}
    return render(request, "refused.html", context, status=error.status_code)


def _flash(message: str, kind: str) -> str:
    return render_to_string("migrations_app/parts/flash.html", {"message": message, "kind": kind, "oob": True})


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default
