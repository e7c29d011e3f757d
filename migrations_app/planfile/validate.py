"""Validating a plan file: every problem at once, each named by its path in the file.

`parse_plan(text)` returns a PlanSpec or raises PlanFileError listing every problem as
`components[3].depends_on: unknown component 'trust-svc' (line 42)`. Nothing here
touches the database.
"""

import hashlib
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from .schema import (
    DEFAULT_HEALTH,
    DEFAULT_ROLLOUT,
    ComponentSpec,
    PhaseSpec,
    PlanFileSpec,
    StepSpec,
)

FORWARD_ACTIONS = ("sql", "http", "command", "check")
REVERSE_ACTIONS = ("reverse_sql", "reverse_http", "reverse_command")
ENV_REFERENCE = re.compile(r"\$\{([^}]*)\}")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    line: int | None = None

    def __str__(self):
        where = f" (line {self.line})" if self.line else ""
        return f"{self.path}: {self.message}{where}" if self.path else f"{self.message}{where}"


class PlanFileError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class PlanSpec:
    """A valid plan: the file's content plus each traffic component's effective rollout."""

    spec: PlanFileSpec
    rollouts: dict[str, dict] = field(default_factory=dict)
    digest: str = ""

    @property
    def key(self) -> str:
        return self.spec.plan


def format_path(path: Path_) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


# --- YAML: syntax, duplicate keys, and the line of every path ----------------------------


def _walk_nodes(node, path: Path_, lines: dict, problems: list[Problem]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(
                    Problem(
                        format_path((*path, key)),
                        f"duplicate key (first on line {seen[key]})",
                        key_node.start_mark.line + 1,
                    )
                )
            seen[key] = key_node.start_mark.line + 1
            _walk_nodes(value_node, (*path, key), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk_nodes(item, (*path, index), lines, problems)


def _load_yaml(text: str) -> tuple[object, dict]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(error, "problem", None) or str(error)
        raise PlanFileError([Problem("", f"YAML syntax error: {problem}", line)]) from None
    lines: dict = {}
    problems: list[Problem] = []
    if root is not None:
        _walk_nodes(root, (), lines, problems)
    if problems:
        raise PlanFileError(problems)
    return data, lines


# --- Shape: pydantic errors turned into sentences ----------------------------------------


def _unwrap(annotation):
    """The model class inside Optional[...] / list[...] / Annotated[...], if any."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _unwrap(arg)
            if found is not None:
                return found
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    for part in loc:
        if isinstance(part, int):
            continue
        field_info = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if field_info is None:
            return None
        model = _unwrap(field_info.annotation)
        if model is None:
            return None
    return model


def _type_name(value) -> str:
    return {
        str: "a string",
        int: "a whole number",
        float: "a number",
        bool: "true/false",
        list: "a list",
        dict: "a mapping",
        type(None): "nothing (null)",
    }.get(type(value), type(value).__name__)


def _describe(error: dict, model: type[BaseModel], loc: tuple) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        known = sorted(f.alias or name for name, f in parent.model_fields.items()) if parent else []
        return f"unknown key; expected one of: {', '.join(known)}" if known else "unknown key"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch":
        allowed = "digits, dots and dashes" if "." in error["ctx"]["pattern"] else "digits and dashes"
        return f"expected lowercase letters, {allowed}, got {value!r}"
    if kind == "literal_error":
        expected = error["ctx"]["expected"]
        return f"expected {expected}, got {value!r}"
    if kind in {"model_type", "dict_type"}:
        return f"expected a mapping, got {_type_name(value)}"
    message = error["msg"]
    if message.startswith("Input should be "):
        message = "expected " + message.removeprefix("Input should be ")
    return f"{message}, got {_type_name(value)} {value!r}" if value is not None else message


def _check_shape(model: type[BaseModel], data, base: Path_, lines: dict, problems: list[Problem]):
    try:
        return model.model_validate(data)
    except ValidationError as error:
        for item in error.errors():
            loc = tuple(part for part in item["loc"] if not (isinstance(part, str) and "[" in part))
            path = (*base, *loc)
            line = lines.get(path) or lines.get(path[:-1]) or lines.get(base)
            problems.append(Problem(format_path(path), _describe(item, model, loc), line))
        return None


# --- Rules that relate one part of the file to another -----------------------------------


class _Checker:
    def __init__(self, lines: dict):
        self.lines = lines
        self.problems: list[Problem] = []

    def add(self, path: Path_, message: str) -> None:
        line = None
        for depth in range(len(path), -1, -1):
            line = self.lines.get(path[:depth])
            if line:
                break
        self.problems.append(Problem(format_path(path), message, line))

    def env_references(self, value, path: Path_) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self.env_references(item, (*path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.env_references(item, (*path, index))
        elif isinstance(value, str):
            for name in ENV_REFERENCE.findall(value):
                if not ENV_NAME.match(name):
                    self.add(path, f"${{{name}}} is not an environment variable name")
            if "${" in ENV_REFERENCE.sub("", value):
                self.add(path, "unterminated ${ (expected ${NAME})")

    def rollout(self, settings: dict, path: Path_, own: set[str] | None = None) -> None:
        """Check merged rollout settings; with `own`, only rules touching keys set at `path`."""

        def mine(*keys):
            return own is None or bool(own & set(keys))

        steps = settings["steps"]
        if mine("steps"):
            if not steps:
                self.add((*path, "steps"), "expected at least one percentage")
            for index, value in enumerate(steps):
                if not 0 <= value <= 100:
                    self.add((*path, "steps", index), f"{value} is not a percentage; expected 0..100")
            for previous, value in zip(steps, steps[1:], strict=False):
                if value <= previous:
                    self.add((*path, "steps"), f"must be strictly increasing, but {value} follows {previous}")
                    break
            if steps and steps[-1] != 100 and 0 <= steps[-1] <= 100:
                self.add((*path, "steps"), f"the last step must be 100 so that the rollout can finish, not {steps[-1]}")
        if mine("steps", "approval_at"):
            for index, value in enumerate(settings["approval_at"]):
                if value not in steps:
                    listed = ", ".join(str(s) for s in steps)
                    self.add((*path, "approval_at", index), f"{value} is not one of the steps ({listed})")
        if mine("interval_seconds") and settings["interval_seconds"] <= 0:
            self.add((*path, "interval_seconds"), f"must be positive, got {settings['interval_seconds']}")
        health = settings["health"]
        health_own = None if own is None else own_health_keys(own)
        bounds = {
            "window_seconds": (lambda v: v > 0, "must be positive"),
            "max_error_rate": (lambda v: 0 <= v <= 1, "must be a rate between 0 and 1"),
            "max_avg_latency_ms": (lambda v: v > 0, "must be positive"),
            "warn_p95_latency_ms": (lambda v: v > 0, "must be positive"),
            "min_samples": (lambda v: v >= 1, "must be at least 1"),
            "max_mismatch_rate": (lambda v: v is None or 0 <= v <= 1, "must be a rate between 0 and 1"),
        }
        for key, (ok, message) in bounds.items():
            if (health_own is None or key in health_own) and not ok(health[key]):
                self.add((*path, "health", key), f"{message}, got {health[key]}")

    def step(self, step: StepSpec, raw: dict, path: Path_) -> None:
        forward = [name for name in FORWARD_ACTIONS if getattr(step, name) is not None]
        reverse = [name for name in REVERSE_ACTIONS if getattr(step, name) is not None]
        if not forward:
            self.add(path, "no action; expected exactly one of sql, http, command, check")
        elif len(forward) > 1:
            self.add(path, f"two actions ({', '.join(forward)}); expected exactly one of sql, http, command, check")
        if len(reverse) > 1:
            self.add(path, f"two reverse actions ({', '.join(reverse)}); expected at most one")
        if step.check is not None:
            for name in reverse:
                self.add((*path, name), "a check has no reverse action: it changes nothing to undo")
            probes = [name for name in ("http", "sql") if getattr(step.check, name) is not None]
            if len(probes) != 1:
                self.add((*path, "check"), "expected exactly one of http (a probe) or sql (an assertion)")
        if step.timeout_seconds <= 0:
            self.add((*path, "timeout_seconds"), f"must be positive, got {step.timeout_seconds}")
        uses_sql = (
            step.sql is not None
            or step.reverse_sql is not None
            or (step.check is not None and step.check.sql is not None)
        )
        if uses_sql and not step.database:
            self.add(path, "an sql step needs `database` (the name of a target database)")
        if step.database and not uses_sql:
            self.add((*path, "database"), "only sql steps and sql checks name a database")
        for name in ("http", "reverse_http"):
            spec = getattr(step, name)
            if spec is not None:
                self.http(spec, (*path, name))
        if step.check is not None and step.check.http is not None:
            self.http(step.check.http, (*path, "check", "http"))
        for name in ("command", "reverse_command"):
            spec = getattr(step, name)
            if spec is not None and (not spec.argv or not spec.argv[0]):
                self.add((*path, name), "expected an argv: a non-empty list whose first item is the program")
        for name in ("sql", "reverse_sql"):
            statement = getattr(step, name)
            if statement is not None and not statement.strip():
                self.add((*path, name), "expected an SQL statement, got an empty string")
        self.env_references(raw, path)

    def http(self, spec, path: Path_) -> None:
        if not 100 <= spec.expect_status <= 599:
            self.add((*path, "expect_status"), f"expected an HTTP status 100..599, got {spec.expect_status}")
        if not (spec.url.startswith(("http://", "https://", "${"))):
            self.add((*path, "url"), f"expected an http:// or https:// URL, got {spec.url!r}")
        retries = getattr(spec, "retries", 0)
        if not 0 <= retries <= 10:
            self.add((*path, "retries"), f"expected 0..10 retries, got {retries}")
        if getattr(spec, "backoff_seconds", 0) < 0:
            self.add((*path, "backoff_seconds"), "must not be negative")


def own_health_keys(own: set[str]) -> set[str]:
    return {key.removeprefix("health.") for key in own if key.startswith("health.")}


def _rollout_keys(spec) -> set[str]:
    """The keys a rollout override sets, with health keys as `health.NAME`."""
    if spec is None:
        return set()
    keys = {name for name in spec.model_fields_set if name != "health"}
    if spec.health is not None:
        keys |= {f"health.{name}" for name in spec.health.model_fields_set}
    return keys


def _merge_rollout(*layers) -> dict:
    merged = dict(DEFAULT_ROLLOUT)
    health = dict(DEFAULT_HEALTH)
    for layer in layers:
        if layer is None:
            continue
        merged |= {key: value for key, value in layer.model_dump(exclude_unset=True).items() if key != "health"}
        if layer.health is not None:
            health |= layer.health.model_dump(exclude_unset=True)
    merged["health"] = health
    return merged


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as [a, b, ..., a], or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for nxt in graph.get(node, []):
            cycle = visit(nxt)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in graph:
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def _check_plan(data: dict, lines: dict) -> PlanSpec:
    check = _Checker(lines)
    problems = check.problems
    top = {key: value for key, value in data.items() if key not in ("phases", "components")}
    top["phases"], top["components"] = [], []
    header = _check_shape(PlanFileSpec, top, (), lines, problems)
    for key in ("phases", "components"):
        if key not in data:
            check.add((key,), "required field is missing")
        elif not isinstance(data[key], list):
            check.add((key,), f"expected a list, got {_type_name(data[key])}")
        elif not data[key]:
            check.add((key,), "expected at least one entry")
    raw_phases = data.get("phases") if isinstance(data.get("phases"), list) else []
    raw_components = data.get("components") if isinstance(data.get("components"), list) else []

    phases: list[tuple[int, PhaseSpec]] = []
    for index, raw in enumerate(raw_phases):
        phase = _check_shape(PhaseSpec, raw, ("phases", index), lines, problems)
        if phase is not None:
            phases.append((index, phase))
    components: list[tuple[int, ComponentSpec, dict]] = []
    for index, raw in enumerate(raw_components):
        component = _check_shape(ComponentSpec, raw, ("components", index), lines, problems)
        if component is not None:
            components.append((index, component, raw))
    # Names of entries that failed their shape check still count as known, so one bad
    # component does not also make every reference to it an "unknown component".
    known_phase_keys = [raw.get("key") for raw in raw_phases if isinstance(raw, dict)]
    known_component_names = {raw.get("name") for raw in raw_components if isinstance(raw, dict)}

    if header is not None:
        for index, item in enumerate(header.checklist):
            if not item.strip():
                check.add(("checklist", index), "expected the text of a readiness item, got an empty string")
        if header.approval_expiry_hours < 1:
            check.add(("approval_expiry_hours",), f"must be at least 1, got {header.approval_expiry_hours}")
        check.rollout(_merge_rollout(header.rollout), ("rollout",))

    phase_position: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    for index, phase in phases:
        path = ("phases", index)
        if phase.key in first_seen:
            check.add((*path, "key"), f"duplicate phase {phase.key!r} (first at phases[{first_seen[phase.key]}])")
            continue
        first_seen[phase.key] = index
        phase_position[phase.key] = index
        if len(phase.days) != 2:
            check.add((*path, "days"), f"expected [min, max] days, got {len(phase.days)} values")
        elif not 0 <= phase.days[0] <= phase.days[1]:
            check.add((*path, "days"), f"expected 0 <= min <= max, got {phase.days}")
        if phase.rollback_window_hours < 0:
            check.add((*path, "rollback_window_hours"), f"must not be negative, got {phase.rollback_window_hours}")
        if phase.approvals < 1:
            check.add(
                (*path, "approvals"), f"must be at least 1 (promotion always needs an approver), got {phase.approvals}"
            )

    rollouts: dict[str, dict] = {}
    graph: dict[str, list[str]] = {}
    by_name: dict[str, ComponentSpec] = {}
    first_component: dict[str, int] = {}
    for index, component, _raw in components:
        if component.name in first_component:
            check.add(
                ("components", index, "name"),
                f"duplicate component {component.name!r} (first at components[{first_component[component.name]}])",
            )
            continue
        first_component[component.name] = index
        by_name[component.name] = component
    for index, component, raw in components:
        path = ("components", index)
        if first_component.get(component.name) != index:
            continue
        if component.phase not in phase_position and component.phase not in known_phase_keys:
            expected = ", ".join(str(key) for key in known_phase_keys if key) or "none defined"
            check.add((*path, "phase"), f"unknown phase {component.phase!r}; expected one of: {expected}")
        if component.estimated_minutes < 0:
            check.add((*path, "estimated_minutes"), f"must not be negative, got {component.estimated_minutes}")
        if not component.steps:
            check.add((*path, "steps"), "expected at least one step")
        seen_deps: set[str] = set()
        for dep_index, dependency in enumerate(component.depends_on):
            dep_path = (*path, "depends_on", dep_index)
            if dependency == component.name:
                check.add(dep_path, "a component cannot depend on itself")
            elif dependency in seen_deps:
                check.add(dep_path, f"{dependency!r} is listed twice")
            elif dependency not in known_component_names:
                check.add(dep_path, f"unknown component {dependency!r}")
            elif dependency in by_name:
                other = by_name[dependency]
                mine, theirs = phase_position.get(component.phase), phase_position.get(other.phase)
                if mine is not None and theirs is not None and theirs > mine:
                    check.add(
                        dep_path,
                        f"{dependency!r} is in phase {other.phase!r}, which comes after this "
                        f"component's phase {component.phase!r}",
                    )
            seen_deps.add(dependency)
        graph[component.name] = [d for d in component.depends_on if d in by_name and d != component.name]
        if component.rollout is not None and not component.traffic:
            check.add((*path, "rollout"), "a rollout needs a traffic component (set traffic: true)")
        if component.traffic:
            plan_layer = header.rollout if header is not None else None
            merged = _merge_rollout(plan_layer, component.rollout)
            if component.rollout is not None:
                check.rollout(merged, (*path, "rollout"), own=_rollout_keys(component.rollout))
            rollouts[component.name] = merged
        check.env_references(component.health_url, (*path, "health_url"))
        step_names: dict[str, int] = {}
        for step_index, step in enumerate(component.steps):
            step_path = (*path, "steps", step_index)
            if step.name in step_names:
                check.add(
                    (*step_path, "name"), f"duplicate step name {step.name!r} (first at steps[{step_names[step.name]}])"
                )
            step_names.setdefault(step.name, step_index)
            check.step(step, raw["steps"][step_index], step_path)

    cycle = _find_cycle(graph)
    if cycle:
        index = first_component[cycle[0]]
        check.add(("components", index, "depends_on"), f"dependency cycle: {' -> '.join(cycle)}")

    if problems or header is None:
        raise PlanFileError(sorted(problems, key=lambda p: (p.line or 0, p.path)))
    spec = header.model_copy(update={"phases": [p for _, p in phases], "components": [c for _, c, _ in components]})
    canonical = json.dumps(spec.model_dump(mode="json", by_alias=True), sort_keys=True)
    return PlanSpec(spec=spec, rollouts=rollouts, digest=hashlib.sha256(canonical.encode()).hexdigest())


def parse_plan(text: str) -> PlanSpec:
    data, lines = _load_yaml(text)
    if not isinstance(data, dict):
        raise PlanFileError(
            [
                Problem(
                    "",
                    f"expected a mapping with plan, name, phases and components at the top, got {_type_name(data)}",
                    1,
                )
            ]
        )
    return _check_plan(data, lines)


def parse_plan_file(path: str | Path) -> tuple[PlanSpec, str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise PlanFileError([Problem("", f"cannot read {path}: {error.strerror}")]) from None
    except UnicodeDecodeError:
        raise PlanFileError([Problem("", f"{path} is not UTF-8 text")]) from None
    return parse_plan(text), text
