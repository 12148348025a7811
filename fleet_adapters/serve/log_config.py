"""Process-wide logging: console lines by default, JSON lines with --logging-json; stdlib logging
(uvicorn, pgserver, the drivers) goes through the same handler."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from fleet_adapters.settings import Settings
from fleet_core.services.debug import record_server_errors


def configure_logging(settings: Settings) -> None:
    level = logging.DEBUG if settings.logging_debug else logging.INFO
    json = settings.logging_json
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Plain tracebacks: the rich formatter prints local variables, which can hold passwords and tokens.
    renderer: Any = (structlog.processors.JSONRenderer() if json else
                     structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback))
    structlog.configure(
        # The server's errors are also kept for GET /debug/errors (fleet_core.services.debug).
        processors=[*shared, record_server_errors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info if json else structlog.processors.StackInfoRenderer(),
                    renderer],
        # uvicorn's and the drivers' errors are kept for GET /debug/errors too.
        foreign_pre_chain=[*shared, record_server_errors()],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log prints raw paths, and invite tokens travel in paths; ours logs templates.
    logging.getLogger("uvicorn.access").disabled = True
    # pgserver narrates every pg_ctl call at INFO; its failures are reported by us.
    logging.getLogger("pgserver").setLevel(logging.DEBUG if settings.logging_debug else logging.WARNING)
