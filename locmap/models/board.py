"""The board's pack (issue 19): a quarterly or annual assurance pack, asked for on a page and
built by the worker as PDF and XLSX.

A pack belongs to the user who asked for it (its figures are as that user may see them:
partner versions are suppressed) and covers one pilot or, with ``pilot_id`` empty, every
pilot the user may see. The files are kept in the database like uploads and photos.

A partner-agency referral form (:class:`PartnerReferralForm`) lives here too: another
record of the pathway's new tables (migration 0026).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from locmap.models.base import Base, Timestamped, in_vocab, utcnow

__all__ = ["BoardPack", "PartnerReferralForm", "PACK_PERIODS", "PACK_STATUSES"]

PACK_PERIODS = ("quarter", "year")
PACK_STATUSES = ("queued", "running", "done", "failed")


class BoardPack(Timestamped, Base):
    """One pack asked for: period, scope, status and, when done, its two files."""

    __tablename__ = "board_pack"
    __table_args__ = (
        in_vocab("period", PACK_PERIODS),
        in_vocab("status", PACK_STATUSES),
        Index("ix_board_pack_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    pilot_id: Mapped[int | None] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(10))
    period_end: Mapped[dt.date]
    status: Mapped[str] = mapped_column(String(10), default="queued")
    error: Mapped[str] = mapped_column(Text, default="")
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    xlsx: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)


class PartnerReferralForm(Timestamped, Base):
    """A referral form an admin enabled for one pilot and one named partner agency: whoever
    holds its link (``key``) refers a context as that agency, without an account.
    """

    __tablename__ = "partner_referral_form"

    id: Mapped[int] = mapped_column(primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
