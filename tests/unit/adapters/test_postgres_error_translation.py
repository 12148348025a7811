"""Which core error each kind of Postgres refusal becomes (the live refusals are in tests/contract)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from fleet_adapters.postgres.errors import translate
from fleet_core.errors import FleetError, InvalidArgument, TooLarge, Unavailable


@pytest.mark.parametrize(("driver_error", "core"), [
    # Class 54 is filed under OperationalError, like an outage, but it is the request's size.
    (errors.ProgramLimitExceeded("index row requires 57256 bytes"), TooLarge),
    (errors.StatementTooComplex("stack depth limit exceeded"), TooLarge),
    (errors.StringDataRightTruncation("value too long for type character varying(255)"), TooLarge),
    (errors.NumericValueOutOfRange("bigint out of range"), InvalidArgument),
    (errors.UntranslatableCharacter("unsupported Unicode escape sequence"), InvalidArgument),
    (errors.InvalidDatetimeFormat("invalid input syntax for type timestamp"), InvalidArgument),
    (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"), InvalidArgument),
    (UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed"), InvalidArgument),
    # Outages stay outages.
    (errors.QueryCanceled("canceling statement due to statement timeout"), Unavailable),
    (errors.AdminShutdown("terminating connection due to administrator command"), Unavailable),
])
def test_refusals_become_their_core_error(driver_error: Exception, core: type[FleetError]) -> None:
    assert isinstance(driver_error, psycopg.Error | UnicodeEncodeError)
    translated = translate(driver_error)
    assert type(translated) is core
    # The driver text may quote the value (a secret, an email): none of it is carried over.
    assert str(driver_error) not in str(translated)


def test_a_too_large_value_is_an_invalid_argument_for_every_transport() -> None:
    translated = translate(errors.ProgramLimitExceeded("index row size"))
    assert isinstance(translated, InvalidArgument)
    assert translated.problems == (("base", "a value is too large to be stored"),)


def test_an_error_that_is_a_bug_is_left_alone() -> None:
    assert translate(errors.UndefinedColumn("column \"nope\" does not exist")) is None
