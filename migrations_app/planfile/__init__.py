"""Plan files: the YAML format of DESIGN.md, validated whole, then loaded in one transaction."""

from .loader import LoadResult, load_plan
from .validate import PlanFileError, PlanSpec, parse_plan, parse_plan_file

__all__ = ["LoadResult", "PlanFileError", "PlanSpec", "load_plan", "parse_plan", "parse_plan_file"]
