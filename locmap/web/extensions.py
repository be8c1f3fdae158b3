"""Flask extensions, created unbound and wired in ``create_app`` with ``init_app``."""

from __future__ import annotations

from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

__all__ = ["login_manager", "csrf"]

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to see this page."
login_manager.session_protection = "strong"

# Every POST/PUT/PATCH/DELETE, forms and JSON alike, needs the token (JSON: X-CSRFToken).
csrf = CSRFProtect()
