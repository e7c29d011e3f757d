"""The audit page of a plan and its CSV export, with the same filters."""

from django import forms
from django.http import StreamingHttpResponse
from django.utils import timezone

from migrations_app.access import actor_for, requires
from migrations_app.fragments import AuditPage
from migrations_app.fragments.audit import AuditFilter, csv_rows
from migrations_app.roles import Permission

from .plans import plan_for
from .responses import page_response


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150)
    action = forms.CharField(required=False, max_length=60)
    component = forms.CharField(required=False, max_length=100)
    since = forms.DateTimeField(required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"])
    until = forms.DateTimeField(required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"])
    page = forms.IntegerField(required=False, min_value=1)

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            self.add_error("until", "must be after 'since'")
        return data

    def audit_filter(self) -> AuditFilter:
        data = self.cleaned_data
        return AuditFilter(
            actor=data["actor"].strip(),
            action=data["action"].strip(),
            component=data["component"].strip(),
            since=data["since"],
            until=data["until"],
        )


def _form(request) -> AuditFilterForm:
    # Times typed on the page are read in TIME_ZONE (UTC), as every exact time it shows.
    form = AuditFilterForm(request.GET)
    form.is_valid()
    return form


@requires(Permission.VIEW)
def audit(request, plan_key):
    form = _form(request)
    plan = plan_for(plan_key)
    if not form.is_valid():
        return page_response(request, AuditPage(plan, actor_for(request), audit_filter=None, form=form), status=422)
    number = form.cleaned_data["page"] or 1
    page = AuditPage(plan, actor_for(request), audit_filter=form.audit_filter(), page_number=number, form=form)
    return page_response(request, page)


@requires(Permission.VIEW)
def audit_csv(request, plan_key):
    form = _form(request)
    plan = plan_for(plan_key)
    if not form.is_valid():
        errors = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in form.errors.items())
        return StreamingHttpResponse([f"bad filter: {errors}\n"], status=422, content_type="text/plain")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(csv_rows(plan, form.audit_filter()), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{plan.key}-audit-{stamp}.csv"'
    return response
