"""Declarative base, constraint naming and the column helpers every model shares."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from locmap import clock

__all__ = ["Base", "utcnow", "in_vocab", "valid_geom", "Timestamped", "PilotOwned", "pilot_from",
           "pilot_key", "pilot_fk"]

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


class PilotOwned:
    """A model whose table is distributed by pilot (locmap.models.tenancy): its rows are
    one pilot's, and a session scoped to a pilot reads and writes only that pilot's.
    Each model declares its own ``pilot_id`` (its foreign key, how it is filled); this one
    stands for them in ``with_loader_criteria``.
    """

    pilot_id: Mapped[int] = mapped_column()


class Timestamped:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        default=utcnow, server_default=func.now(), onupdate=utcnow
    )


def pilot_from(*parents: tuple[str, str]) -> Callable[[Any], int | None]:
    """A column default for a child table's ``pilot_id``: its parent's, read through the
    first of ``parents`` ((foreign key column, parent table) pairs) the row names.

    The last resort for the distribution column of the tables that reach their pilot
    through a parent (issue 20 (a), locmap.models.tenancy): a relationship to the parent
    copies it first, and a session scoped to a pilot gives new rows that pilot; this
    covers the rest (an object built with a bare parent id outside a scoped session, Core
    inserts). It is a lookup by id, which a Citus cluster sends to every worker. The names
    are the models' own constants, never input.
    """
    queries = [(column, text(f"SELECT pilot_id FROM {table} WHERE id = :id"))  # noqa: S608
               for column, table in parents]

    def default(context: Any) -> int | None:
        params = context.get_current_parameters()
        for column, query in queries:
            if params.get(column) is not None:
                return context.connection.scalar(query, {"id": params[column]})
        return None

    return default


# A table distributed by pilot (locmap.models.tenancy) keys and refers to its rows with
# pilot_id beside the id: Citus keeps a pilot's rows on one worker and checks constraints
# there. The mapper keeps the id alone as the identity (``session.get(Place, 12)``), ids
# stay unique from their sequences, and the ORM's UPDATE and DELETE name both columns.

def pilot_key(*columns: str) -> PrimaryKeyConstraint:
    """The primary key of a distributed table: ``columns`` (its id) and ``pilot_id``."""
    return PrimaryKeyConstraint(*(columns or ("id",)), "pilot_id")


def pilot_fk(column: str, target: str, ondelete: str | None = None) -> ForeignKeyConstraint:
    """``column`` refers to ``target``'s row of the same pilot: (column, pilot_id) ->
    target (id, pilot_id). ON DELETE SET NULL empties ``column`` only (PostgreSQL 15).
    """
    if ondelete == "SET NULL":
        ondelete = f"SET NULL ({column})"
    return ForeignKeyConstraint([column, "pilot_id"], [f"{target}.id", f"{target}.pilot_id"],
                                ondelete=ondelete)


def pilot_association(name: str, first: tuple[str, str], second: tuple[str, str]) -> Table:
    """A link table between two tables of one pilot: ``first`` and ``second`` are (column,
    table) pairs. The key is both ids and ``pilot_id`` (taken from ``first``'s row when not
    given), each id refers to its table's row of the same pilot, and deleting either row
    deletes the link.
    """
    return Table(
        name, Base.metadata,
        Column(first[0], Integer, primary_key=True),
        Column(second[0], Integer, primary_key=True),
        Column("pilot_id", ForeignKey("pilot.id", ondelete="CASCADE"), primary_key=True,
               default=pilot_from(first)),
        pilot_fk(*first, "CASCADE"),
        pilot_fk(*second, "CASCADE"),
    )
