"""Photos on site visits and incidents (issue 18).

A photo is checked, turned upright, resized to at most :data:`MAX_SIDE` pixels on its
long side and re-encoded as a JPEG from its pixels alone, so nothing of the camera's
metadata survives: no EXIF, no GPS position, no maker notes, no embedded thumbnail.
Only that clean JPEG is stored (:class:`locmap.models.Photo`, in the database).

Photos are the owning team's records (``evidence.records``): partners never see them,
the pilot's exports do not hold them, and every view of one is audited. Coordinators and
practitioners add and delete them (``evidence.edit``); they go with their visit or
incident when that is deleted.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from typing import Any, Literal

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap.errors import InvalidData, NotFound, TooLarge
from locmap.models import Incident, Observation, Photo, Place
from locmap.services import audit
from locmap.services.permissions import Actor, require

__all__ = ["MAX_PHOTO_BYTES", "MAX_PHOTOS", "MAX_SIDE", "clean_jpeg", "add_photos",
           "list_photos", "photos_of", "photo_content", "photo_to_delete", "delete_photo",
           "Owner"]

Owner = Literal["observation", "incident"]
MAX_PHOTO_BYTES = 15 * 1024 * 1024  # one photo as the phone sends it
MAX_PHOTOS = 12  # on one visit or incident
MAX_SIDE = 1600  # pixels, the long side as stored
MAX_PIXELS = 60_000_000  # what a photo may decode to (a "decompression bomb" is refused)
_FORMATS = {"JPEG", "PNG", "WEBP", "MPO"}
_QUALITY = 82


def clean_jpeg(data: bytes) -> tuple[bytes, int, int]:
    """The photo as an upright JPEG of at most MAX_SIDE pixels, with no metadata at all."""
    if len(data) > MAX_PHOTO_BYTES:
        raise TooLarge(f"A photo may be at most {MAX_PHOTO_BYTES // 2**20} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            if im.format not in _FORMATS:
                raise InvalidData("A photo must be a JPEG, PNG or WebP image.")
            if im.width * im.height > MAX_PIXELS:
                raise InvalidData("The photo has too many pixels to be a photo.")
            im.load()
    except (UnidentifiedImageError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, OSError, SyntaxError) as exc:
        raise InvalidData("The file is not a photo that can be read (JPEG, PNG or "
                          "WebP).") from exc
    upright: Image.Image = ImageOps.exif_transpose(im) or im  # as the camera was held
    upright = upright.convert("RGB")
    upright.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # A new image from the pixels alone: no info, EXIF, ICC or XMP goes with it.
    bare = Image.new("RGB", upright.size)
    bare.paste(upright)
    out = io.BytesIO()
    bare.save(out, "JPEG", quality=_QUALITY, optimize=True)
    return out.getvalue(), bare.width, bare.height


def _owner_in_pilot(session: Session, pilot_id: int, kind: Owner, owner_id: int) -> None:
    if kind == "observation":
        found = session.scalar(
            select(Observation.id).join(Place, Place.id == Observation.place_id)
            .where(Observation.id == owner_id, Place.pilot_id == pilot_id,
                   Place.deleted_at.is_(None)))
        what = "site visit"
    else:
        found = session.scalar(select(Incident.id).where(Incident.id == owner_id,
                                                         Incident.pilot_id == pilot_id))
        what = "incident"
    if found is None:
        raise NotFound(f"No such {what} in this pilot.")


def _column(kind: Owner) -> Any:
    return Photo.observation_id if kind == "observation" else Photo.incident_id


def _dump(p: Photo) -> dict[str, Any]:
    return {"id": p.id, "width": p.width, "height": p.height, "size": p.size,
            "observation_id": p.observation_id, "incident_id": p.incident_id,
            "url": f"/api/v1/pilots/{p.pilot_id}/photos/{p.id}/image"}


def add_photos(session: Session, actor: Actor, pilot_id: int, kind: Owner, owner_id: int,
               files: list[bytes]) -> list[dict[str, Any]]:
    """Store the photos (all or none) on the visit or incident."""
    require(actor, pilot_id, "evidence.edit")
    _owner_in_pilot(session, pilot_id, kind, owner_id)
    if not files:
        raise InvalidData("Choose at least one photo.", details={"photos": ["Required."]})
    have = session.scalar(select(func.count()).select_from(Photo)
                          .where(_column(kind) == owner_id)) or 0
    if have + len(files) > MAX_PHOTOS:
        what = "visit" if kind == "observation" else "incident"
        raise InvalidData(f"At most {MAX_PHOTOS} photos on one {what} ({have} already).",
                          details={"photos": [f"At most {MAX_PHOTOS}."]})
    added = []
    for data in files:
        jpeg, width, height = clean_jpeg(data)
        photo = Photo(pilot_id=pilot_id, uploader_id=actor.user_id, width=width,
                      height=height, size=len(jpeg), sha256=hashlib.sha256(jpeg).hexdigest(),
                      content=jpeg, **{_column(kind).key: owner_id})
        session.add(photo)
        added.append(photo)
    session.flush()
    for photo in added:
        audit.record(session, actor, "create", "photo", photo.id, pilot_id=pilot_id,
                     detail={kind: owner_id, "bytes": photo.size})
    return [_dump(p) for p in added]


def list_photos(session: Session, actor: Actor, pilot_id: int, kind: Owner, owner_ids: list[int]
                ) -> dict[int, list[dict[str, Any]]]:
    """The photos of these visits or incidents (not their pixels), oldest first."""
    require(actor, pilot_id, "evidence.records")
    col = _column(kind)
    rows = session.scalars(select(Photo).where(Photo.pilot_id == pilot_id, col.in_(owner_ids))
                           .order_by(Photo.id)).all() if owner_ids else []
    out: dict[int, list[dict[str, Any]]] = {}
    for p in rows:
        out.setdefault(getattr(p, col.key), []).append(_dump(p))
    return out


def photos_of(session: Session, actor: Actor, pilot_id: int, kind: Owner, owner_id: int
              ) -> list[dict[str, Any]]:
    """The photos of one visit or incident of this pilot (404 for another pilot's)."""
    require(actor, pilot_id, "evidence.records")
    _owner_in_pilot(session, pilot_id, kind, owner_id)
    return list_photos(session, actor, pilot_id, kind, [owner_id]).get(owner_id, [])


def _photo(session: Session, pilot_id: int, photo_id: int) -> Photo:
    photo = session.scalar(select(Photo).where(Photo.id == photo_id, Photo.pilot_id == pilot_id))
    if photo is None:
        raise NotFound("No such photo in this pilot.")
    return photo


def photo_content(session: Session, actor: Actor, pilot_id: int, photo_id: int
                  ) -> tuple[bytes, str]:
    """The JPEG and its SHA-256 (an ETag); every view is audited."""
    require(actor, pilot_id, "evidence.records")
    photo = _photo(session, pilot_id, photo_id)
    audit.record(session, actor, "read", "photo", photo.id, pilot_id=pilot_id,
                 personal_data=True,
                 detail={"observation": photo.observation_id, "incident": photo.incident_id})
    return photo.content, photo.sha256


def photo_to_delete(session: Session, actor: Actor, pilot_id: int, photo_id: int
                    ) -> dict[str, Any]:
    """One photo of this pilot (not its pixels), for the page that confirms its deletion."""
    require(actor, pilot_id, "evidence.edit")
    return _dump(_photo(session, pilot_id, photo_id))


def delete_photo(session: Session, actor: Actor, pilot_id: int, photo_id: int
                 ) -> dict[str, int | None]:
    """Delete a photo; returns what it belonged to (``observation`` or ``incident`` id)."""
    require(actor, pilot_id, "evidence.edit")
    photo = _photo(session, pilot_id, photo_id)
    detail = {"observation": photo.observation_id, "incident": photo.incident_id}
    session.delete(photo)
    session.flush()
    audit.record(session, actor, "delete", "photo", photo_id, pilot_id=pilot_id, detail=detail)
    return detail
