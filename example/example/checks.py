"""A deployment check the tests can make fail: EXAMPLE_DEPLOY_CHECK_ERROR=1 turns it into an error, the way a
real project's own deploy checks (a missing setting, an unsafe value) would."""

import os

from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def example_deploy_check(app_configs, **kwargs):
    if os.environ.get("EXAMPLE_DEPLOY_CHECK_ERROR") == "1":
        return [checks.Error("EXAMPLE_DEPLOY_CHECK_ERROR=1 says this deployment is not ready", id="example.E001")]
    return []
