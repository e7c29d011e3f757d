"""The Jinja2 environment of the partials the plan overview repeats per item (a traffic
card, a component row, a phase, a checklist item; see settings.TEMPLATES): the dashboard's
tags are its functions, under the same names.

Its autoescape (markupsafe) writes an apostrophe as &#39; where Django writes &#x27;: the
same character to a browser."""

from jinja2 import Environment, pass_context

from migrations_app.templatetags import dashboard


@pass_context
def action(context, **arguments):
    """`{% action %}`: it reads the CSRF token from the context, as the tag does."""
    return dashboard.action(context, **arguments)


def environment(**options) -> Environment:
    env = Environment(**options)
    env.globals.update(
        action=action,
        link=dashboard.link,
        progress=dashboard.progress,
        state=dashboard.state,
        steps_line=dashboard.steps_line,
        when=dashboard.when,
    )
    return env
