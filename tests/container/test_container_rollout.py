"""A rolling restart as users meet it: HAProxy in front of two replicas of the project's image, each replaced under
load (bench/figures/rollout.py is the harness; `make bench` runs it bigger as figure 10). prod-entry with a
shutdown delay covering two health intervals loses nothing; the peers' losses are measured and shown, not
asserted. Then the worker side: a celery worker replaced while acks_late tasks run loses no task."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from bench.figures import rollout
from container_support import Docker, tool

REQUESTS = 2000  # per variant, at least, through the rollout


@pytest.fixture
def engine(docker: Docker) -> Iterator[rollout.Engine]:
    tool("haproxy")
    engine = rollout.Engine(docker.host, docker.cli)
    try:
        yield engine
    finally:
        engine.close()


def test_rolling_restart_behind_haproxy_loses_nothing_with_the_shutdown_delay(
        engine: rollout.Engine, image: str, capsys: pytest.CaptureFixture[str]) -> None:
    results = {r.variant: r for r in rollout.rollouts(engine, image, REQUESTS)}
    table = "\n".join(f"{r.variant:24} sent {r.sent:6} failed {r.failed:5} (during the switch: "
                      f"{r.failed_during_switch} of {r.sent_during_switch}), longest {r.longest_ms:7.1f} ms, "
                      f"switch {r.switch_seconds:5.1f} s, errors: {r.errors}" for r in results.values())
    with capsys.disabled():
        print(f"\nrolling restart behind HAProxy, {REQUESTS}+ requests per variant:\n{table}")
    ours = results[rollout.PROD_DELAY]
    assert ours.sent >= REQUESTS and ours.sent_during_switch > 0, table
    assert ours.failed == 0, table
    # The peers: only that their losses were measured, through a whole rollout each.
    for variant in rollout.VARIANTS[1:]:
        assert results[variant].sent >= REQUESTS and results[variant].sent_during_switch > 0, table
