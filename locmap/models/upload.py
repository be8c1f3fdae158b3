"""An uploaded file waiting to be previewed and imported, kept in the database.

Uploads live in PostgreSQL (``bytea``) rather than on one machine's disk so that whichever
web process takes the confirm and whichever worker runs the import can read them. A row
is deleted once its import has run, and purged 24 hours after upload otherwise
(:func:`locmap.services.import_jobs.purge_uploads`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from locmap.models.base import Base, PilotOwned, pilot_fk, pilot_key, utcnow

__all__ = ["Upload"]


class Upload(PilotOwned, Base):
    __tablename__ = "upload"
    # With pilot_id, as a table distributed by pilot needs (locmap.models.tenancy).
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("data_import_id", "data_import", "SET NULL"),
        UniqueConstraint("token", "pilot_id", name="uq_upload_token"),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    # The unguessable name in the preview URL; only its uploader can use it.
    token: Mapped[str] = mapped_column(String(64))
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    uploader_id: Mapped[int] = mapped_column(ForeignKey("user_account.id",
                                                        ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    # Preview, chosen CRS, member files; after the confirm, the import's kind and options.
    meta: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Set by the confirm: claims the upload (a double click cannot import it twice).
    data_import_id: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now(),
                                                    index=True)
