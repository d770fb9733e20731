"""A system check the warmup tests switch on with EXAMPLE_CHECK_ERROR=1."""

import os

from django.core.checks import Error, register


@register()
def example_check(app_configs, **kwargs):
    if os.environ.get("EXAMPLE_CHECK_ERROR") == "1":
        return [Error("EXAMPLE_CHECK_ERROR is set", hint="unset it", id="example.E001")]
    return []
