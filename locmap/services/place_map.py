"""What a place's own map is sent: the place's neighbourhood, not the pilot.

The place page's map and the assessment page's map draw the place with the combined
perceived-safety cells around it. They are sent only the cells within
:data:`NEIGHBOURHOOD_M` of the place (the ring the assessment compares the place with,
:data:`locmap.queries.assessment.RING_M`), and of each cell only what the map draws:
its outline, its colour (``mostly``), whether it is withheld, and the maps and shares
its tooltip shows — as the reader may see them (:func:`locmap.services.safety_maps.surface`:
a partner's figures withheld below the threshold, counts rounded). The whole pilot's
surface stays on the safety-maps page, where it is the point.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from locmap.queries.assessment import RING_M
from locmap.services import safety_maps
from locmap.services.permissions import Actor

__all__ = ["NEIGHBOURHOOD_M", "MAP_CELL_FIELDS", "perceived_layer"]

NEIGHBOURHOOD_M = RING_M
MAP_CELL_FIELDS = ("geometry", "mostly", "withheld", "maps", "shares")


def perceived_layer(session: Session, actor: Actor, pilot_id: int, place_id: int, *,
                    threshold: int) -> dict[str, Any]:
    """The perceived-safety cells around one place, of the latest period whose maps rate
    somewhere in that neighbourhood (the latest period with maps when none does).

    Returns
    -------
    dict
        ``period`` (its label, None before any map), ``cell_m``, ``partner``,
        ``neighbourhood_m`` and ``cells`` (each with :data:`MAP_CELL_FIELDS` only).
    """
    around = (place_id, NEIGHBOURHOOD_M)
    surface = safety_maps.surface(session, actor, pilot_id, threshold=threshold, around=around)
    if not surface["cells"]:
        # The latest maps rate somewhere else: show the latest period whose maps rate
        # this place's surroundings, if any (the label says which period it is).
        for p in reversed([p for p in surface["periods"] if p["maps"]]):
            earlier = safety_maps.surface(session, actor, pilot_id, period=p["key"],
                                          threshold=threshold, around=around)
            if earlier["cells"]:
                surface = earlier
                break
    return {"period": surface["period"]["label"] if surface["period"] else None,
            "cell_m": surface["cell_m"], "partner": surface["partner"],
            "neighbourhood_m": NEIGHBOURHOOD_M,
            "cells": [{k: c.get(k) for k in MAP_CELL_FIELDS} for c in surface["cells"]]}
