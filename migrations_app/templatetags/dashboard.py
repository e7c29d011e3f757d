"""The dashboard's small repeated pieces as tags: a state with its icon, a progress bar, a
time (relative in the browser, exact on hover), a button that posts, a link, and a Jinja2
partial.

They render the markup a template partial would, without an `{% include %}` per use: the
plan overview shows hundreds of them, and an include costs more than its whole output.
"""

import html
from functools import lru_cache

from django import template
from django.template import engines
from django.urls import reverse
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

ICONS = {
    **dict.fromkeys(("completed", "promoted", "approved"), "✔"),
    **dict.fromkeys(("running", "in_progress", "progressing", "rolling_back", "started"), "▶"),
    **dict.fromkeys(("failed", "rollback_failed", "rejected", "interrupted"), "✖"),
    "rolled_back": "↺",
    **dict.fromkeys(("awaiting_approval", "paused"), "‖"),
    **dict.fromkeys(("skipped", "expired", "invalidated"), "»"),
}


def _escape(value) -> str:
    """`conditional_escape` without its lazy-text wrapper: the tags below call it some
    hundreds of times for one plan overview."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


@register.simple_tag
def state(state: str, label: str, approval: bool = False):
    """A state in words with its icon (colour only confirms it)."""
    icon = "‖" if approval and state == "pending" else ICONS.get(state, "○")
    return mark_safe(f'<span class="state state-{_escape(state)}">{icon} {_escape(label)}</span>')  # noqa: S308


@register.simple_tag
def progress(p):
    """Steps done of total, elapsed against the estimate."""
    words = f"{p.done} / {p.total} steps"
    elapsed, estimate, over_estimate = p.elapsed_text, p.estimate_text, p.over_estimate
    if p.running:
        words += " · ▶ running"
    if elapsed:
        words += f" · {elapsed}"
    if estimate:
        words += f" of ~{estimate}"
    if over_estimate:
        words += " · ⚠ over estimate"
    over = " over" if over_estimate else ""
    return mark_safe(  # noqa: S308 - numbers, and the words escaped
        f'<div class="progress{over}" role="progressbar" aria-valuemin="0" aria-valuemax="{p.total:d}" '
        f'aria-valuenow="{p.done:d}" aria-label="Steps done"><span style="width: {p.percent:d}%"></span></div>\n'
        f"<small>{_escape(words)}</small>"
    )


@register.simple_tag
def steps_line(card):
    """A rollout's steps: those reached are done, the next one is next; ‖ marks a step
    that needs approval first."""
    rollout, items = card.rollout, []
    for step in rollout.steps:
        css = "done" if step <= rollout.percentage else "next" if step == card.next_step else ""
        approval = ' <span title="needs approval">‖</span>' if step in (rollout.approval_at or []) else ""
        items.append(f'<li class="{css}">{_escape(step)}%{approval}</li>')
    return mark_safe(f'<ol class="steps-line" aria-label="Rollout steps">{"".join(items)}</ol>')  # noqa: S308


@register.simple_tag
def when(t, countdown: bool = False):
    """A moment: exact in UTC as text and on hover; live.js shows it relative ("3 min ago")."""
    if not t:
        return "—"
    return format_html(
        '<time datetime="{}" title="{} UTC" data-relative{}>{} UTC</time>',
        date_format(t, "c"),
        date_format(t, "Y-m-d H:i:s"),
        " data-countdown" if countdown else "",
        date_format(t, "Y-m-d H:i"),
    )


@register.simple_tag(takes_context=True)
def action(
    context,
    url: str,
    label: str,
    gate,
    id: str = "",  # noqa: A002 - the element id, as the templates name it
    style: str = "",
    with_reason: bool = False,
    reason_required: bool = False,
    label_for: str = "",
    shared_why: str = "",
    field: str = "",
    field_value: str = "",
    next: str = "",  # noqa: A002
):
    """A button that posts (through live.js when JavaScript runs, as a form otherwise). A
    disabled one says why beside it, or once for a list (`shared_why` names that text)."""
    e = _escape
    hidden = [("csrfmiddlewaretoken", context.get("csrf_token", "")), ("next", next)]
    if field:
        hidden.append((field, field_value))
    parts = [f'<input type="hidden" name="{e(name)}" value="{e(value)}">' for name, value in hidden]
    if with_reason and gate.allowed:
        required = " required" if reason_required else ""
        reason_id = f' id="reason-{e(id)}"' if id else ""
        parts.append(
            f'<label class="reason"><span>Reason{" (required)" if reason_required else ""}</span>'
            f'<input type="text" name="reason"{required} maxlength="500"{reason_id}></label>'
        )
    attributes = f' id="btn-{e(id)}"' if id else ""
    if label_for:
        attributes += f' aria-label="{e(label)}: {e(label_for)}"'
    if not gate.allowed:
        attributes += f' disabled aria-describedby="{e(shared_why or f"why-{id}")}"'
    parts.append(f'<button type="submit" class="btn {e(style)}"{attributes}>{e(label)}</button>')
    if not gate.allowed and not shared_why:
        parts.append(f'<small class="why" id="why-{e(id)}">Not available: {e(gate.why)}</small>')
    return mark_safe(  # noqa: S308 - every value above is escaped
        f'<form method="post" action="{e(url)}" data-live-form class="action{" with-reason" if with_reason else ""}">'
        f"{''.join(parts)}</form>"
    )


@lru_cache(maxsize=4096)
def _reversed(viewname: str, args: tuple[str, ...]) -> str:
    return reverse(viewname, args=args)


@register.simple_tag
def link(viewname: str, *args):
    """`{% url %}` for the links a page repeats per component (a few hundred on the overview):
    the URL configuration stays as it is while the process runs, so each is reversed once."""
    return _reversed(viewname, tuple(str(a) for a in args))


@register.simple_tag(takes_context=True)
def jinja(context, template_name: str, **values):
    """A partial from the Jinja2 engine (`templates/jinja2/`), for markup the plan overview
    repeats per component: it renders about three times faster than the same template in
    Django's language, and the overview shows dozens. It sees the plan, the CSRF token and
    the values named here."""
    template = engines["jinja2"].env.get_template(template_name)
    values = {"plan": context.get("plan"), "csrf_token": context.get("csrf_token", ""), **values}
    return mark_safe(template.render(values))  # noqa: S308 - Jinja2 escapes with autoescape on
