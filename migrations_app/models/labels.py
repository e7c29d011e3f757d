"""Choice labels looked up in a dict built once per field.

Django's `get_<field>_display()` flattens the field's choices into a new dict on every
call; the plan overview shows a few hundred states, risks and kinds, and that rebuilding
was a measurable part of its render.
"""

from functools import cache

from django.db import models


@cache
def _labels(field: models.Field) -> dict:
    return {value: str(label) for value, label in field.flatchoices}


class ChoiceLabels(models.Model):
    class Meta:
        abstract = True

    def _get_FIELD_display(self, field):  # noqa: N802 - Django's name, which get_<field>_display() calls
        value = getattr(self, field.attname)
        return _labels(field).get(value, value)
