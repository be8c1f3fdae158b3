"""The gazetteer: named streets and points of interest of the base map, and a pilot's
places (for its members), by name.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from locmap.services import basemap
from locmap.web.api import api
from locmap.web.context import actor, db_session


class SearchQuerySchema(Schema):
    q = fields.String(required=True, validate=validate.Length(min=2, max=100),
                      metadata={"description": "Part of a name: 'Church St', 'library'."})
    pilot = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1),
                           metadata={"description": "Also search this pilot's places "
                                                    "(members only)."})


class SearchHitSchema(Schema):
    name = fields.String()
    kind = fields.String()
    kind_label = fields.String()
    source = fields.String(metadata={"description": "basemap or place"})
    place_id = fields.Integer()
    lat = fields.Float()
    lon = fields.Float()
    bbox = fields.List(fields.Float(), metadata={"description": "[west, south, east, north]"})
    area = fields.String(metadata={"description": "Where a base map hit is: the nearest town, "
                                                  "village or suburb, or 'near' a named "
                                                  "feature (tells same-named streets apart)"})


class SearchResultSchema(Schema):
    results = fields.List(fields.Nested(SearchHitSchema))


@api.route("/search", summary="Find streets, points of interest and places by name",
           tag="basemap", query=SearchQuerySchema, response=SearchResultSchema)
def search(query: dict[str, Any]) -> Any:
    """Names containing ``q``, those starting with it first; at most 10. A street's
    segments are one result, with the box around them all; same-named streets apart from
    each other (in different towns) are a result each, with their ``area``.
    """
    return {"results": basemap.search(db_session(), actor(), query["q"],
                                              query["pilot"])}
