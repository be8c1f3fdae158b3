"""Plan pages with plain forms: make a plan, add an action, the gap list shrinks, text is
escaped, roles are checked on the server."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from tests import factories
from tests.integration.test_plan_api import _csrf, _submit, api, make_assessment


def test_make_a_plan_add_an_action_and_gaps_shrink(client: Any, auth: Any, session: Session,
                                                  world: factories.World) -> None:
    c = make_assessment(session, world)
    auth.login("practitioner@test.invalid")
    c["base"] = f"/api/v1/pilots/{c['pilot']}"
    r = api(client, "POST", f"{c['base']}/places/{c['place']}/assessments")
    c["assessment"] = r.get_json()["id"]
    page = f"/pilots/{c['pilot']}/assessments/{c['assessment']}/plans"
    assert "Submit the assessment before" in client.get(page).get_data(as_text=True)
    _submit(client, c)
    html = client.get(f"/pilots/{c['pilot']}/assessments/{c['assessment']}").get_data(
        as_text=True)
    assert 'id="make-plan-link"' in html
    r = client.post(page, data={"csrf_token": _csrf(client), "starts_on": "2025-03-01"})
    assert r.status_code == 302
    plan_url = r.headers["Location"]
    html = client.get(plan_url).get_data(as_text=True)
    assert re.search(r'id="gap-count">3 gaps<', html)
    assert html.count('class="kpi"') == 4 and 'id="plan-data"' in html
    factor = re.search(r'<option value="(\d+)" >\[3\] Dealing near the door', html)
    assert factor
    r = client.post(plan_url + "/edit", data={
        "csrf_token": _csrf(client), "op": "add_action", "factors_sent": "1",
        "description": "<script>alert(1)</script> bystander training",
        "category": "build_resilience", "domain": "partnerships", "status": "planned",
        "factor_ids": [factor.group(1)], "due_on": "2025-04-01", "owner_agency_id": "",
        "lead": "", "context_name": "", "progress_notes": ""})
    assert r.status_code == 302
    html = client.get(plan_url).get_data(as_text=True)
    assert re.search(r'id="gap-count">2 gaps<', html)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; bystander training" in html
    assert '<span class="flag">Overdue</span>' in html
    place_page = client.get(f"/pilots/{c['pilot']}/places/{c['place']}/plans")
    assert "Plan v1" in place_page.get_data(as_text=True)
    # Submitting from the plan page freezes it and leads to the review page.
    assert 'id="submit-plan"' in html and 'id="plan-pdf-link"' not in html
    r = client.post(plan_url + "/edit", data={"csrf_token": _csrf(client), "op": "submit"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/review")
    html = client.get(plan_url).get_data(as_text=True)
    assert 'id="submit-plan"' not in html and 'id="plan-pdf-link"' in html
    assert 'id="plan-state">not yet sent<' in html  # the review page's word for it

    auth.logout()
    auth.login("partner_reviewer@test.invalid")
    html = client.get(plan_url).get_data(as_text=True)
    assert 'id="add-action"' not in html and "Compute now" not in html
    r = client.post(plan_url + "/edit", data={"csrf_token": _csrf(client), "op": "compute"})
    assert r.status_code == 403
