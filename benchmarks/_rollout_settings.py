"""Settings for benchmarks/rollout.py only: the product's settings plus a URLconf that adds a
minimal JSON view, the baseline the rollout endpoints are measured against. Never deployed."""

from controlplane.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks._rollout_urls"
