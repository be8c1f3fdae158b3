"""The one password rule (issue 14): long enough and not a common password."""

from __future__ import annotations

from locmap.services.accounts import MIN_PASSWORD_LENGTH, password_problem


def test_length_and_the_bundled_common_password_list() -> None:
    assert password_problem("x" * (MIN_PASSWORD_LENGTH - 1)) == (
        f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    for common in ("password1234", "PASSWORD1234", "qwertyuiop123", " Q1w2e3r4t5y6 "):
        problem = password_problem(common)
        assert problem and "list of common passwords" in problem, common
    assert password_problem("x" * 1025) is not None
    for fine in ("correct horse battery", "demo-password", "a browser passphrase"):
        assert password_problem(fine) is None, fine
