"""The shape of a plan file: keys, types and which are required.

Pydantic checks shape only (unknown keys, wrong types, missing fields); the rules that
relate one part of the file to another live in `validate.py`, so every error can be
reported at once with its path.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=100)]
# Plan keys may carry a version: truststream-v4.2.
PlanKey = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]*$", max_length=100)]
RiskLevel = Literal["low", "medium", "high"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class HealthSpec(Strict):
    window_seconds: int | None = None
    max_error_rate: float | None = None
    max_avg_latency_ms: float | None = None
    warn_p95_latency_ms: float | None = None
    min_samples: int | None = None
    max_mismatch_rate: float | None = None


class RolloutSpec(Strict):
    steps: list[int] | None = None
    approval_at: list[int] | None = None
    interval_seconds: int | None = None
    fallback: bool | None = None
    comparison: bool | None = None
    health: HealthSpec | None = None


class PhaseSpec(Strict):
    key: Slug
    name: str
    description: str = ""
    days: list[int]
    risk: RiskLevel
    rollback_window_hours: int
    approvals: int = 1


class HttpSpec(Strict):
    url: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    headers: dict[str, str] = {}
    json_body: Any = Field(default=None, alias="json")
    expect_status: int = 200
    retries: int = 0
    backoff_seconds: float = 1.0


def _argv_shorthand(value):
    return {"argv": value} if isinstance(value, list) else value


class CommandSpec(Strict):
    argv: list[str]
    cwd: str | None = None
    env: dict[str, str] = {}


Command = Annotated[CommandSpec, BeforeValidator(_argv_shorthand)]


class HttpProbeSpec(Strict):
    url: str
    headers: dict[str, str] = {}
    expect_status: int = 200
    json_field: str | None = None
    expect_value: Any = None


class SqlAssertionSpec(Strict):
    query: str
    expect: Any


class CheckSpec(Strict):
    http: HttpProbeSpec | None = None
    sql: SqlAssertionSpec | None = None


class StepSpec(Strict):
    name: str
    sql: str | None = None
    http: HttpSpec | None = None
    command: Command | None = None
    check: CheckSpec | None = None
    reverse_sql: str | None = None
    reverse_http: HttpSpec | None = None
    reverse_command: Command | None = None
    database: str | None = None
    timeout_seconds: int = 60


class ComponentSpec(Strict):
    name: Slug
    phase: str
    description: str = ""
    depends_on: list[str] = []
    estimated_minutes: int = 0
    risk: RiskLevel
    rollback_complexity: Literal["simple", "moderate", "complex"]
    traffic: bool = False
    health_url: str = ""
    rollout: RolloutSpec | None = None
    steps: list[StepSpec]


class PlanFileSpec(Strict):
    plan: PlanKey
    name: str
    description: str = ""
    auto_rollback: Literal["component", "plan"] = "component"
    approval_expiry_hours: int = 72
    rollout: RolloutSpec | None = None
    checklist: list[str] = []
    phases: list[PhaseSpec]
    components: list[ComponentSpec]


DEFAULT_HEALTH = {
    "window_seconds": 300,
    "max_error_rate": 0.05,
    "max_avg_latency_ms": 2000,
    "warn_p95_latency_ms": 3000,
    "min_samples": 50,
    "max_mismatch_rate": None,
}
DEFAULT_ROLLOUT = {
    "steps": [10, 25, 50, 75, 100],
    "approval_at": [],
    "interval_seconds": 300,
    "fallback": True,
    "comparison": False,
}
