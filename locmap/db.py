"""Engine, sessions and schema migrations.

The schema is created only by Alembic (``locmap db upgrade``); nothing here calls
``create_all``. One ``Database`` object holds the engine and the session factory; the web
app opens one session per request, the CLI one per command.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from locmap.config import Settings
from locmap.pgserver import ensure_database, resolve_url

__all__ = ["Database", "alembic_config", "upgrade", "downgrade", "MIGRATIONS_DIR"]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class Database:
    """The engine and a session factory; optionally bound to one outer connection (tests)."""

    def __init__(
        self, url: str, *, bind: Connection | None = None, engine: Engine | None = None
    ) -> None:
        self.url = url
        self.engine: Engine = engine or create_engine(url, pool_pre_ping=True)
        if bind is not None:
            # Tests: every session joins the test's outer transaction via savepoints.
            self.sessionmaker = sessionmaker(
                bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
        else:
            self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings, *, create: bool = True) -> Database:
        url = resolve_url(settings.database_url, settings.data_dir)
        if create:
            ensure_database(url)
        return cls(url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        with self.sessionmaker() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
