"""Pages of a pilot's peer network: the graph, the network on the map, one group's summary.

Everything drawn here comes from :func:`locmap.services.network.analysis` — pseudonyms
only. Recording happens through two small forms (purpose and lawful basis; a person with
their relationships and places) that post here, and through the JSON API.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from locmap import clock
from locmap.errors import InvalidData, LocmapError
from locmap.services import network, network_view, pilots, places
from locmap.services.permissions import can
from locmap.vocab import AGE_BANDS, PERSON_KINDS, RELATIONSHIP_TYPES, VALENCES
from locmap.web.context import actor, db_session, login_required, suppression_threshold

bp = Blueprint("network", __name__)

_LINK_ROWS = 4


def _as_of() -> dt.date:
    text = request.args.get("as_of", "")
    try:
        return dt.date.fromisoformat(text) if text else clock.today()
    except ValueError:
        abort(400, "as_of must be a date (YYYY-MM-DD).")


def _context(pilot_id: int) -> dict[str, Any]:
    s, a = db_session(), actor()
    pilot = pilots.pilot_summary(s, a, pilots.get_pilot(s, a, pilot_id), threshold=int(
        suppression_threshold())).to_dict()
    return {"pilot": pilot, "purpose": network.get_purpose(s, a, pilot_id),
            "can_edit": can(a, pilot_id, "network.edit"),
            "can_export": can(a, pilot_id, "network.export"),
            "can_identity": can(a, pilot_id, "identity.edit")}


@bp.route("/pilots/<int:pilot_id>/network")
@login_required
def network_page(pilot_id: int, error: str | None = None, status: int = 200) -> Any:
    s, a = db_session(), actor()
    ctx = _context(pilot_id)
    as_of = _as_of()
    ego, radius, since = _ego_and_since(pilot_id, as_of)
    try:
        result, records = network.analysis(s, a, pilot_id, as_of=as_of, page="network",
                                           compare_with=since, ego_of=ego, ego_radius=radius)
    except InvalidData as exc:  # an unknown person or a "since" not before "as of"
        error, status = exc.message, 400
        result, records = network.analysis(s, a, pilot_id, as_of=as_of, page="network")
    names = {p.id: p.pseudonym for p in records["people"]}
    place_names = {pl.id: pl.name for pl in records["places"]}
    return render_template(
        "network.html", **ctx, as_of=as_of, result=result, names=names,
        place_names=place_names, graph=network_view.graph_data(result, records), error=error,
        pseudonyms=sorted(names.values()), all_places=sorted(place_names.items(),
                                                             key=lambda kv: kv[1]),
        kinds=PERSON_KINDS, age_bands=AGE_BANDS, types=RELATIONSHIP_TYPES, valences=VALENCES,
        frequencies=network.FREQUENCIES, link_rows=_LINK_ROWS,
        ego_name=request.args.get("ego", "").strip(), radius=radius, since=since,
    ), status


def _ego_and_since(pilot_id: int, as_of: dt.date) -> tuple[int | None, int, dt.date | None]:
    """The ego view's person (``?ego=<pseudonym>``) and radius, and "changed since"."""
    name = request.args.get("ego", "").strip()
    radius = request.args.get("radius", "2")
    if radius not in ("1", "2", "3"):
        abort(400, "radius must be 1, 2 or 3.")
    ego = None
    if name:
        ego = network.person_ids_named(db_session(), pilot_id, [name]).get(name)
        if ego is None:
            abort(400, f"No person {name!r} in this pilot's network.")
    text = request.args.get("since", "")
    try:
        since = dt.date.fromisoformat(text) if text else None
    except ValueError:
        abort(400, "since must be a date (YYYY-MM-DD).")
    if since is not None and since >= as_of:
        abort(400, "since must be before the 'as of' date.")
    return ego, int(radius), since


@bp.route("/pilots/<int:pilot_id>/network/purpose", methods=["POST"])
@login_required
def set_purpose(pilot_id: int) -> Any:
    try:
        network.set_purpose(db_session(), actor(), pilot_id,
                            purpose=request.form.get("purpose", ""),
                            lawful_basis=request.form.get("lawful_basis", ""))
    except LocmapError as exc:
        if exc.status != 422:
            raise
        return network_page(pilot_id, error=exc.message, status=422)
    flash("Purpose and lawful basis recorded.", "ok")
    return redirect(url_for("network.network_page", pilot_id=pilot_id))


def _form_date(name: str) -> dt.date | None:
    text = request.form.get(name, "").strip()
    return dt.date.fromisoformat(text) if text else None


def _person_form() -> dict[str, Any]:
    f = request.form
    links = []
    for i in range(_LINK_ROWS):
        name = f.get(f"link_{i}", "").strip()
        if name:
            links.append({"pseudonym": name, "type": f.get(f"link_{i}_type", "friend"),
                          "valence": f.get(f"link_{i}_valence", "neutral"),
                          "strength": int(f.get(f"link_{i}_strength", "2"))})
    visits = [{"place_id": int(pid), "frequency": f.get(f"place_{pid}_frequency", "weekly")}
              for pid in f.getlist("place")]
    identity = None
    if f.get("identity_name", "").strip():
        identity = {"name": f["identity_name"], "date_of_birth": _form_date("identity_dob"),
                    "case_reference": f.get("identity_case_reference", "")}
    return {"kind": f.get("kind", ""), "age_band": f.get("age_band", "unknown"),
            "identity": identity, "links": links, "places": visits,
            "source": f.get("source", "")[:100], "since": _form_date("since")}


@bp.route("/pilots/<int:pilot_id>/network/people", methods=["POST"])
@login_required
def add_person(pilot_id: int) -> Any:
    try:
        try:
            fields = _person_form()
        except ValueError as exc:
            raise InvalidData("A date or number in the form is not valid.") from exc
        out = network.record_person_with_links(db_session(), actor(), pilot_id, **fields)
    except LocmapError as exc:
        if exc.status not in (409, 422):
            raise
        return network_page(pilot_id, error=exc.message, status=exc.status)
    flash(f"Recorded {out['pseudonym']} with {len(out['relationships'])} relationship(s) "
          f"and {len(out['presences'])} place(s).", "ok")
    return redirect(url_for("network.network_page", pilot_id=pilot_id))


@bp.route("/pilots/<int:pilot_id>/network/map")
@login_required
def network_map(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    ctx = _context(pilot_id)
    as_of = _as_of()
    result, _ = network.analysis(s, a, pilot_id, as_of=as_of, page="network_map")
    usage = [{"place_id": p.place_id, "name": p.name,
              "groups": [{"label": g.label, "members": g.members_present} for g in p.groups],
              "shared": p.shared}
             for p in result.places.places]
    return render_template(
        "network_map.html", **ctx, as_of=as_of,
        data={"pilot_id": pilot_id,
              "places": places.list_places(s, a, pilot_id, threshold=suppression_threshold()),
              "usage": usage,
              "groups": [g.label for g in result.groups.groups],
              "tile_url": current_app.config["LOCMAP_TILE_URL"],
              "tile_attribution": current_app.config["LOCMAP_TILE_ATTRIBUTION"]},
    )


# The table view's columns, by table: the query parameter ``sort_<table>`` names one
# (``-`` in front: descending). A list sorts by its length, yes/no by yes first.
_TABLE_COLUMNS = {
    "people": ("pseudonym", "kind", "age_band", "group", "connector", "articulation", "places"),
    "groups": ("label", "members", "places"),
    "ties": ("a", "b", "type", "valence", "strength", "places"),
    "places": ("name", "young_people", "groups", "adults_of_concern", "trusted_adults",
               "shared"),
}


def _sort_key(value: Any) -> Any:
    if isinstance(value, bool):
        return (0, not value)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, (list, tuple)):
        return (0, len(value))
    return (1, str(value or "").casefold())


def _row_key(column: str, row: dict[str, Any]) -> Any:
    return _sort_key(row[column])


def _sorted_tables(tables: dict[str, list[dict[str, Any]]]) -> dict[str, tuple[str, bool]]:
    """Sort each table in place as ``sort_<table>`` asks; return each table's (column, desc)."""
    order: dict[str, tuple[str, bool]] = {}
    for name, columns in _TABLE_COLUMNS.items():
        text = request.args.get(f"sort_{name}", "")
        desc = text.startswith("-")
        column = text.lstrip("-")
        if column not in columns:
            order[name] = ("", False)
            continue
        tables[name].sort(key=functools.partial(_row_key, column), reverse=desc)
        order[name] = (column, desc)
    return order


@bp.route("/pilots/<int:pilot_id>/network/table")
@login_required
def network_table(pilot_id: int) -> Any:
    """The peer network as tables (people, groups, ties, places).

    What the graph and the map draw, readable with a keyboard and a screen reader.
    """
    s, a = db_session(), actor()
    ctx = _context(pilot_id)
    as_of = _as_of()
    result, records = network.analysis(s, a, pilot_id, as_of=as_of, page="network_table")
    tables = network_view.table_data(result, records)
    order = _sorted_tables(tables)

    def sort_url(table: str, column: str) -> str:
        on, desc = order[table]
        args: dict[str, Any] = {k: v for k, v in request.args.items() if k in {"as_of"} | {
            f"sort_{t}" for t in _TABLE_COLUMNS}}
        args[f"sort_{table}"] = f"-{column}" if on == column and not desc else column
        return url_for("network.network_table", pilot_id=pilot_id, **args,
                       _anchor=f"{table}-table")

    return render_template("network_table.html", **ctx, as_of=as_of, result=result,
                           tables=tables, order=order, sort_url=sort_url)


@bp.route("/pilots/<int:pilot_id>/network/groups/<label>")
@login_required
def group_page(pilot_id: int, label: str) -> Any:
    s, a = db_session(), actor()
    ctx = _context(pilot_id)
    as_of = _as_of()
    result, records = network.analysis(s, a, pilot_id, as_of=as_of, page="network_group")
    wanted = label if label.startswith("Group ") else f"Group {label}"
    group = next((g for g in result.groups.groups if g.label == wanted), None)
    if group is None:
        abort(404, f"No {wanted} in this pilot's network on {as_of}.")
    names = {p.id: p.pseudonym for p in records["people"]}
    c = result.concerns

    def touches(t: Any) -> bool:
        return wanted in (t.a_group, t.b_group)

    return render_template(
        "network_group.html", **ctx, as_of=as_of, group=group, names=names,
        places=[(p.name, next(g.members_present for g in p.groups if g.label == wanted),
                 p.shared) for p in result.places.places
                if any(g.label == wanted for g in p.groups)],
        harmful=[t for t in c.harmful_ties if touches(t)],
        protective=[t for t in c.protective_ties if touches(t)],
        adults=[ad for ad in c.adults_of_concern if wanted in ad.groups_reached],
        trusted=[ad for ad in c.trusted_adults if wanted in ad.groups_reached],
        connectors=[cn for cn in result.connectors.connectors if cn.group == wanted],
    )
