"""A practitioner records a site visit and a risk factor at Eastbrook Library."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import login

pytestmark = pytest.mark.browser


def _library_url(page: Any) -> str:
    pilots = page.request.get("/api/v1/pilots").json()
    pilot = next(p for p in pilots if p["name"] == "Eastbrook Town Centre")
    places = page.request.get(f"/api/v1/pilots/{pilot['id']}/places").json()
    library = next(f for f in places["features"] if f["properties"]["name"] == "Eastbrook Library")
    return f"/pilots/{pilot['id']}/places/{library['id']}"


def test_record_a_visit_and_a_risk_factor_at_the_library(page: Any) -> None:
    login(page, "practitioner@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    page.goto(_library_url(page))
    assert page.locator("#place-name").inner_text().strip() == "Eastbrook Library"
    page.wait_for_selector("#place-map[data-rendered='1']")
    assert page.locator("#incident-list tbody tr").count() > 0
    before_visits = page.locator("#visit-timeline .visit").count()

    page.click("#visit-form-box > summary")
    page.fill("#visit-form input[name=started_at]", "2025-11-12T15:40")
    page.fill("#visit-form input[name=ended_at]", "2025-11-12T16:50")
    page.fill("#visit-form input[name=weather]", "Browser-test drizzle")
    page.select_option("#visit-form select[name=light]", "dusk")
    page.fill("#visit-form input[name=young_people_14_15]", "23")
    page.fill("#visit-form input[name=staff_guardians_present]", "2")
    page.select_option("#visit-form select[name=guardianship]", "low")
    page.check("#visit-form input[name=signs_of_drug_use]")
    page.fill("#visit-form textarea[name=felt_unsafe]", "Crowding at the entrance at closing")
    page.click("#visit-form button[type=submit]")
    page.wait_for_selector(".flash:has-text('Site visit recorded')")
    visit = page.locator("#visit-timeline .visit", has_text="Browser-test drizzle")
    assert visit.count() == 1
    assert "23 young people" in visit.inner_text() and "signs of drug use" in visit.inner_text()
    visit_id = visit.get_attribute("data-observation-id")

    page.click("#factor-form-box > summary")
    page.select_option("#factor-form select[name=quadrant]", "risk")
    page.fill("#factor-form textarea[name=statement]",
              "Browser test: crowding at closing time with no staff outside")
    page.select_option("#factor-form select[name=weight]", "3")
    incident_value = page.locator("#factor-form select[name=incident_ids] option").first \
        .get_attribute("value")
    page.select_option("#factor-form select[name=incident_ids]", [incident_value])
    page.select_option("#factor-form select[name=observation_ids]", [visit_id])
    page.click("#factor-form button[type=submit]")
    page.wait_for_selector(".flash:has-text('Safety factor added')")

    page.reload()
    assert page.locator("#visit-timeline .visit").count() == before_visits + 1
    assert page.locator("#visit-timeline .visit", has_text="Browser-test drizzle").count() == 1
    card = page.locator("#quadrant-risk .factor", has_text="Browser test: crowding")
    assert card.count() == 1
    assert card.locator(".evidence-counts").inner_text().strip() == \
        "1 incident · 1 visit · 0 engagement"
    assert card.locator(".dot.on").count() == 3
    assert page.locator("#quadrant-resilience .factor", has_text="Browser test").count() == 0
