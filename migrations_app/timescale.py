"""Durations a plan states, as the control plane applies them.

A plan says what a real migration needs (the procedure's 5-minute rollout interval and
health window); the demo sets ROLLOUT_TIME_SCALE below 1 so that a person can watch a
whole rollout. Every reader of a rollout interval or health window goes through here.
"""

from django.conf import settings


def scaled(seconds: int | float) -> int:
    return max(1, round(seconds * settings.ROLLOUT_TIME_SCALE))
