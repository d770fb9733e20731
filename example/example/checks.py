"""Checks the tests can make fail, the way a real project's own checks (a missing setting, an unsafe value)
would: EXAMPLE_DEPLOY_CHECK_ERROR=1 fails a deploy check (example.E001, PROD_ENTRY_CHECK_DEPLOY tests);
EXAMPLE_CHECK_ERROR=1 fails an ordinary system check (example.E002, warmup tests)."""

import os

from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def example_deploy_check(app_configs, **kwargs):
    if os.environ.get("EXAMPLE_DEPLOY_CHECK_ERROR") == "1":
        return [checks.Error("EXAMPLE_DEPLOY_CHECK_ERROR=1 says this deployment is not ready", id="example.E001")]
    return []


@checks.register()
def example_check(app_configs, **kwargs):
    if os.environ.get("EXAMPLE_CHECK_ERROR") == "1":
        return [checks.Error("EXAMPLE_CHECK_ERROR is set", hint="unset it", id="example.E002")]
    return []
