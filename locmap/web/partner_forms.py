"""Partner-agency referral forms: the admin's page that enables one per pilot and agency,
and the form itself, reached by its link without an account (CSRF-protected like every
form, limited per form and per address; every check in
:mod:`locmap.services.partner_forms`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from locmap.errors import Conflict, Forbidden, InvalidData, NotFound
from locmap.services import partner_forms
from locmap.services.admin import require_admin
from locmap.vocab import CONTEXT_KIND_LABELS, HARM_CATEGORIES, REFERRAL_URGENCIES
from locmap.web.context import actor, db_session, login_required
from locmap.web.referrals import form_int

bp = Blueprint("partner_forms", __name__)

_HARMS = tuple(h for h in HARM_CATEGORIES
               if h not in ("violence_and_sexual_offences", "robbery"))


@bp.route("/admin/pilots/<int:pilot_id>/partner-forms", methods=["GET", "POST"])
@login_required
def manage(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    require_admin(a)
    if request.method == "POST":
        try:
            if request.form.get("form_id"):
                f = partner_forms.set_enabled(s, a, pilot_id, form_int("form_id"),
                                              request.form.get("enabled") == "1",
                                              form_int("version"))
                message = f"The form is {'open' if f.enabled else 'closed'}."
            else:
                partner_forms.create_form(s, a, pilot_id, form_int("agency_id"))
                message = "Form enabled: send its link to the agency."
        except (InvalidData, Conflict, NotFound) as exc:
            s.rollback()
            flash(exc.message, "error")
        else:
            s.commit()
            flash(message, "info")
        return redirect(url_for(".manage", pilot_id=pilot_id))
    return render_template("partner_forms.html", d=partner_forms.list_forms(s, a, pilot_id))


@bp.route("/refer", methods=["GET", "POST"])
def refer() -> Any:
    s = db_session()
    key = request.args.get("key", "")
    if not key:
        return render_template("partner_refer.html", d=None), 400
    try:
        d = partner_forms.open_form(s, key)
    except NotFound as exc:
        return render_template("partner_refer.html", d=None, message=exc.message), 404
    form: dict[str, Any] = {}
    if request.method == "POST":
        f = request.form
        form = f.to_dict()
        try:
            partner_forms.submit(s, key, {
                "context_kind": f.get("context_kind"), "place_id": form_int("place_id"),
                "context_name": f.get("context_name", ""), "concern": f.get("concern", ""),
                "harm_types": f.getlist("harm_types"),
                "children_count": f.get("children_count", ""),
                "referrer_name": f.get("referrer_name", ""), "urgency": f.get("urgency"),
            }, request.remote_addr)
        except partner_forms.TooMany as exc:
            s.rollback()
            flash(exc.message, "error")
            return _form_page(d, form), 429
        except (InvalidData, Forbidden) as exc:
            s.rollback()
            flash(exc.message, "error")
        else:
            s.commit()
            return render_template("partner_refer.html", d=d, done=True)
    return _form_page(d, form)


def _form_page(d: dict[str, Any], form: dict[str, Any]) -> Any:
    return render_template("partner_refer.html", d=d, form=form, harms=_HARMS,
                           kinds=partner_forms.FORM_KINDS, kind_labels=CONTEXT_KIND_LABELS,
                           urgencies=REFERRAL_URGENCIES,
                           chosen=request.form.getlist("harm_types"))
