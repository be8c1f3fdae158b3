"""Queueing a job: a queue that cannot be reached fails the job at once, with the reason;
any other error is not swallowed."""

from __future__ import annotations

import psycopg
import pytest
from procrastinate.exceptions import ConnectorException

from locmap.jobs import defer_or_fail


def _raise(exc: BaseException) -> None:
    raise exc


@pytest.mark.parametrize("exc", [psycopg.OperationalError("connection refused"),
                                 ConnectorException("database gone")])
def test_an_unreachable_queue_fails_the_job_with_the_reason(exc: BaseException) -> None:
    failed: list[str] = []
    defer_or_fail("import 7", lambda: _raise(exc), failed.append)
    assert failed == [type(exc).__name__]


def test_a_queued_job_is_not_failed() -> None:
    queued: list[int] = []
    failed: list[str] = []
    defer_or_fail("import 7", lambda: queued.append(7), failed.append)
    assert (queued, failed) == ([7], [])


def test_a_programming_error_is_not_taken_for_an_unreachable_queue() -> None:
    failed: list[str] = []
    with pytest.raises(TypeError):
        defer_or_fail("import 7", lambda: _raise(TypeError("bad argument")), failed.append)
    assert failed == []
