"""Hypothesis settings for this suite: CI has 2 cores shared with Postgres and Redis, so
per-example deadlines and generation-speed health checks would only measure the machine."""

from hypothesis import HealthCheck, settings

settings.register_profile("fleet", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("fleet")
