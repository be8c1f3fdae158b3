"""Generated requests against the API's own OpenAPI document, as a partner reviewer (see
test_api_fuzz.py: the same run as the practitioner's, in its own file so that the two can
go to two test processes)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from tests import factories

pytest.importorskip("schemathesis")
from tests.integration.test_api_fuzz import fuzz_as  # noqa: E402

pytestmark = pytest.mark.slow


def test_generated_requests_never_get_a_server_error_as_a_partner(
        app: Flask, connection: Connection, session: Session, world: factories.World,
        figure: Callable[[str], None]) -> None:
    fuzz_as("partner_reviewer", app, connection, session, world, figure)
