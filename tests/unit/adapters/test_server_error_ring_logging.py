"""The fleet command's logging chain keeps the server's errors for GET /debug/errors: structlog
events at error level or with an exception, and the standard library's (uvicorn's "Exception in
ASGI application"), with plain tracebacks; info and warnings are not kept."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from fleet_adapters.serve.log_config import configure_logging
from fleet_adapters.settings import Settings
from fleet_core.services.debug import SERVER_ERRORS


@pytest.fixture
def fleet_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_structlog = structlog.get_config()
    pgserver = logging.getLogger("pgserver")
    saved_pgserver_level = pgserver.level
    # An earlier test in the same process (one that ran uvicorn or a dictConfig) may have disabled
    # uvicorn's loggers or stopped them propagating; a fresh `fleet serve` process starts with both
    # as the standard library makes them.
    uvicorn_loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error")]
    saved_uvicorn = [(lg.disabled, lg.propagate, lg.handlers[:], lg.level) for lg in uvicorn_loggers]
    for lg in uvicorn_loggers:
        lg.disabled, lg.propagate, lg.handlers[:] = False, True, []
        lg.setLevel(logging.NOTSET)
    SERVER_ERRORS.flush()
    configure_logging(Settings())
    try:
        yield
    finally:
        SERVER_ERRORS.flush()
        structlog.configure(**saved_structlog)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        logging.getLogger("uvicorn.access").disabled = False
        pgserver.setLevel(saved_pgserver_level)
        for lg, (disabled, propagate, handlers, level) in zip(uvicorn_loggers, saved_uvicorn, strict=True):
            lg.disabled, lg.propagate, lg.handlers[:] = disabled, propagate, handlers
            lg.setLevel(level)


def test_errors_from_structlog_and_the_standard_library_are_kept(fleet_logging: None) -> None:
    log = structlog.get_logger("fleet.test")
    log.info("all_fine")
    log.warning("request_failed", status=404)
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        log.exception("unhandled_error", uuid="abc123")
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    log.warning("request_failed", status=500, uuid="def456")

    kept = SERVER_ERRORS.list()
    assert [e["event"] for e in kept] == ["unhandled_error", "Exception in ASGI application", "request_failed"]
    structlog_entry, stdlib_entry, server_side = kept
    assert structlog_entry["uuid"] == "abc123" and structlog_entry["level"] == "error"
    for entry in (structlog_entry, stdlib_entry):
        assert entry["error"] == "ZeroDivisionError: division by zero"
        assert entry["traceback"].rstrip().endswith("ZeroDivisionError: division by zero")
    assert (server_side["status"], server_side["uuid"]) == (500, "def456")
