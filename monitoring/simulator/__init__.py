"""The traffic simulator: the system being migrated, for the demo (DESIGN.md).

For every traffic component of a plan it sends requests at a steady rate, routes each by
the live rollout snapshot (fetched by ETag, evaluated locally with migrations_app.routing),
serves it from the original or the migrated provider with per-provider latency and error
rates, reports metrics and comparisons through the public API, and serves the
components' health URLs. Faults can be set at start and while it runs (POST /faults).
"""
