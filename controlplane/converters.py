from django.urls import register_converter


class PlanKeyConverter:
    """Plan keys are slugs that may carry a version with dots: truststream-v4.2."""

    regex = r"[a-z0-9][a-z0-9.-]*"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(PlanKeyConverter, "plan")
