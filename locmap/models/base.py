"""Declarative base, constraint naming and the column helpers every model shares."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import CheckConstraint, DateTime, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from locmap import clock

__all__ = ["Base", "utcnow", "in_vocab", "valid_geom", "Timestamped"]

# Stable constraint names so migrations can drop and alter them by name.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}


def utcnow() -> dt.datetime:
    """The clock's now (:mod:`locmap.clock`), so a moved clock moves every timestamp."""
    return clock.now()


def in_vocab(column: str, words: Iterable[str], name: str | None = None) -> CheckConstraint:
    """CHECK that ``column`` holds one of ``words`` (vocabulary constants, never user input)."""
    quoted = ", ".join("'" + w.replace("'", "''") + "'" for w in words)
    return CheckConstraint(f"{column} IN ({quoted})", name=name or f"{column}_vocab")


def valid_geom(column: str) -> CheckConstraint:
    """CHECK that a geometry is valid by PostGIS' own rules (NULL passes)."""
    return CheckConstraint(f"{column} IS NULL OR ST_IsValid({column})", name=f"{column}_valid")


class Timestamped:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        default=utcnow, server_default=func.now(), onupdate=utcnow
    )
