"""`${NAME}` in a step's strings, replaced from the environment when the step runs, so
that hosts and secrets stay out of plan files."""

import os
import re
import sys
from collections.abc import Mapping

from .base import StepFailed

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# `${PYTHON}` is the control plane's own interpreter unless the environment says otherwise:
# the demo plan's command steps run Python snippets with it.
DEFAULTS = {"PYTHON": sys.executable}


def substitute(value, environ: Mapping[str, str] | None = None):
    """`value` (a string, or lists and dicts of them) with every `${NAME}` replaced.

    Raises StepFailed naming the first variable that is not set.
    """
    environ = os.environ if environ is None else environ
    if isinstance(value, str):
        return REFERENCE.sub(lambda match: _lookup(match.group(1), environ), value)
    if isinstance(value, list):
        return [substitute(item, environ) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, environ) for key, item in value.items()}
    return value


def _lookup(name: str, environ: Mapping[str, str]) -> str:
    if name in environ:
        return environ[name]
    if name in DEFAULTS:
        return DEFAULTS[name]
    raise StepFailed(f"environment variable {name} is not set (the step uses ${{{name}}}); set it on the workers")
