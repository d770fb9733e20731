"""Fixtures of the unit tests."""

import pytest

from entrypoint.settings import limits

# One CPU and 512 MiB: the machine's own limits would make auto-sized counts differ from one machine to the next
# (test_sizing.py reads fake /sys and /proc trees instead).
ONE_CPU = limits.Limits(1.0, "test", 512 * limits.MiB, "test")


@pytest.fixture
def fixed_limits(monkeypatch: pytest.MonkeyPatch) -> limits.Limits:
    monkeypatch.setattr(limits, "read", lambda env: ONE_CPU)
    return ONE_CPU
