"""Keyboard only (issue 18): a practitioner signs in, makes a place from typed coordinates,
records an incident at the map's centre, records a site visit, and reads the peer network
as tables — with Tab, Shift+Tab, Enter, Space, letters and arrow keys, never the mouse.
Every control used shows where the focus is (a computed outline or ring)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# What the focused element looks like: its outline and box-shadow as computed.
_FOCUS_STYLE = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) { return null; }
  const s = getComputedStyle(e);
  return {tag: e.tagName, id: e.id, name: e.getAttribute('name'),
          text: (e.textContent || '').trim().slice(0, 40),
          outline: s.outlineStyle, width: parseFloat(s.outlineWidth), shadow: s.boxShadow,
          visible: e.matches(':focus-visible')};
}"""


def _focus(page: Any) -> dict[str, Any]:
    style: dict[str, Any] | None = page.evaluate(_FOCUS_STYLE)
    assert style is not None, "the focus was lost (on the page's body)"
    return style


def assert_focus_visible(page: Any) -> dict[str, Any]:
    """The focused control has a visible focus indicator: an outline at least 2 px wide or
    a box-shadow ring (what :focus-visible in locmap.css draws)."""
    style = _focus(page)
    ring = style["outline"] not in ("none", "") and style["width"] >= 2
    assert ring or style["shadow"] not in ("none", ""), f"no visible focus on {style}"
    return style


def focused(page: Any, selector: str) -> bool:
    """Whether the focus is on the (first) element ``selector`` (Playwright's syntax)."""
    target = page.locator(selector).first
    return target.count() > 0 and bool(target.evaluate("e => e === document.activeElement"))


def assert_focused(page: Any, selector: str, timeout: float = 5000) -> None:
    """The focus comes to the (first) element of the CSS ``selector`` within ``timeout`` ms:
    the browser applies ``autofocus`` and script focus at its next rendering step, which
    may come after Playwright's load or selector events."""
    try:
        page.wait_for_function(
            "s => { const e = document.querySelector(s); "
            "return e !== null && e === document.activeElement; }",
            arg=selector, timeout=timeout)
    except Exception as error:  # Playwright's TimeoutError
        raise AssertionError(f"the focus never came to {selector}; "
                             f"it is on {_focus(page)}") from error


def tab_to(page: Any, selector: str, *, back: bool = False, limit: int = 250) -> None:
    """Press Tab (or Shift+Tab) until the focus is on ``selector``; check it shows."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if focused(page, selector):
            assert_focus_visible(page)
            return
    raise AssertionError(f"{'Shift+Tab' if back else 'Tab'} never reached {selector}; "
                         f"the focus is on {_focus(page)}")


def test_a_practitioner_works_with_the_keyboard_only(page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    tag = uuid.uuid4().hex[:6]

    # Sign in (the email field has the focus), then the skip link is the first stop.
    page.goto("/login")
    assert_focused(page, "input[name=email]")
    assert_focus_visible(page)
    page.keyboard.type("practitioner@demo.locmap.invalid")
    tab_to(page, "input[name=password]")
    page.keyboard.type("demo-password")
    page.keyboard.press("Enter")
    page.wait_for_selector("#pilot-list .card")
    page.keyboard.press("Tab")
    assert_focused(page, ".skip-link")
    assert_focus_visible(page)
    tab_to(page, "#pilot-list a:has-text('Eastbrook Town Centre')")
    page.keyboard.press("Enter")
    page.wait_for_selector("#map[data-workspace-ready]")
    page.wait_for_selector("#place-from-coords:not([hidden])")

    # A place from typed coordinates (the keyboard's way instead of drawing).
    before = int(page.text_content("#place-count") or "0")
    tab_to(page, "#place-from-coords")
    page.keyboard.press("Enter")
    page.wait_for_selector("#coords-form")
    assert_focused(page, "#coords-form input[name=first]")  # the form takes the focus
    assert_focus_visible(page)
    tab_to(page, "#coords-form select[name=system]", back=True)
    page.keyboard.press("ArrowDown")  # easting, northing (British National Grid)
    assert page.eval_on_selector("#coords-form select[name=system]", "s => s.value") == "bng"
    tab_to(page, "#coords-form input[name=first]")
    page.keyboard.type("436600")  # in the demo locality, 350 m from any other place
    tab_to(page, "#coords-form input[name=second]")
    page.keyboard.type("291872")
    page.keyboard.press("Enter")
    page.wait_for_selector("#place-form")
    assert_focused(page, "#place-form input[name=name]")
    assert_focus_visible(page)
    name = f"Keyboard corner {tag}"
    page.keyboard.type(name)
    tab_to(page, "#place-form select[name=kind]")
    page.keyboard.type("fast")  # type-ahead picks the kind (a point: no park or street)
    assert page.eval_on_selector("#place-form select[name=kind]", "s => s.value") == "fast_food"
    tab_to(page, "#place-form button[type=submit]")
    with page.expect_response(lambda r: r.url.endswith("/places")
                              and r.request.method == "POST") as resp:
        page.keyboard.press("Enter")
    assert resp.value.status == 201 and resp.value.json()["geometry"]["type"] == "Point"
    item = f"#place-list .place[data-place-id='{resp.value.json()['id']}']"
    page.wait_for_function(f"() => +document.getElementById('place-count').textContent > {before}")
    expect(page.locator("#ws-message")).to_have_text(f"Saved “{name}”.")
    # The focus goes back to the button that opened the form, not to the top of the page.
    assert_focused(page, "#place-from-coords")
    assert_focus_visible(page)

    # The place list carries the popup's actions as buttons: "Edit details" opens the same
    # form; a place without an assessment offers to start one.
    assert page.locator(f"{item} a.start-assessment").get_attribute("href").endswith(
        f"/places/{resp.value.json()['id']}/assessments/new")
    tab_to(page, f"{item} button.place-edit", back=True)
    page.keyboard.press("Enter")
    page.wait_for_selector("#place-form")
    assert_focused(page, "#place-form input[name=name]")
    page.keyboard.press("End")
    page.keyboard.type(" east")
    name += " east"
    tab_to(page, "#place-form button[type=submit]")
    with page.expect_response(lambda r: r.request.method == "PATCH") as resp:
        page.keyboard.press("Enter")
    assert resp.value.status == 200 and resp.value.json()["properties"]["name"] == name
    expect(page.locator("#ws-message")).to_have_text(f"Saved “{name}”.")
    assert_focused(page, f"{item} button.place-edit")  # the rebuilt item's, not the top
    # "Show on map" is a button too: it opens the place's popup.
    tab_to(page, f"{item} button.place-show", back=True)
    page.keyboard.press("Enter")
    page.wait_for_selector(f".leaflet-popup-content:has-text('{name}')")

    # An incident: "Add incident" hands the focus to the map; arrows move it, Enter records
    # at the cross in its centre (the new place's point, where the map was centred).
    tab_to(page, "#add-incident", back=True)
    page.keyboard.press("Space")
    assert page.get_attribute("#add-incident", "aria-pressed") == "true"
    assert_focused(page, "#map")
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    page.wait_for_selector("#incident-form")
    assert_focused(page, "#incident-form select[name=category]")
    assert_focus_visible(page)
    page.keyboard.type("drugs")  # type-ahead: "Drugs"
    assert page.eval_on_selector("#incident-form select[name=category]", "s => s.value") == "drugs"
    tab_to(page, "#incident-form textarea[name=description]")
    page.keyboard.type(f"seen from the keyboard {tag}")
    tab_to(page, "#incident-form button[type=submit]")
    with page.expect_response(lambda r: r.url.endswith("/incidents")
                              and r.request.method == "POST") as resp:
        page.keyboard.press("Enter")
    assert resp.value.status == 201, resp.value.text()
    page.wait_for_selector("#ws-message:has-text('Recorded')")
    assert page.locator("#ws-message").text_content() == f"Recorded drugs at “{name}”."
    assert_focused(page, "#add-incident")

    # A site visit, on the field visit page (linked from the workspace).
    tab_to(page, "#field-link")
    page.keyboard.press("Enter")
    page.wait_for_selector("#field-visit-form")
    # The field page's map is the shared base map (locmap's own vector tiles), like others.
    page.wait_for_selector("#field-map[data-basemap=vector][data-basemap-ready]")
    assert page.get_attribute("#field-keep-map", "hidden") is None
    tab_to(page, "#field-place")
    page.keyboard.type("Keyboard")  # type-ahead (a space would open the list instead)
    assert page.eval_on_selector("#field-place", "s => s.selectedOptions[0].text").startswith(name)
    tab_to(page, "#field-visit-form input[name=weather]")
    page.keyboard.type(f"dry, keyboard {tag}")
    plus = "#field-visit-form button[aria-label='One more: Aged 14–15']"
    tab_to(page, plus)
    page.keyboard.press("Enter")
    page.keyboard.press("Space")
    assert page.input_value("#field-visit-form input[name=young_people_14_15]") == "2"
    tab_to(page, "#field-visit-form input[name=signs_of_dealing]")
    page.keyboard.press("Space")
    assert page.is_checked("#field-visit-form input[name=signs_of_dealing]")
    tab_to(page, "#field-visit-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#field-queue li.sent:has-text('Site visit at {name}')",
                           timeout=20000)

    # The peer network, read as tables: from the workspace's link, then the table view.
    tab_to(page, "a:has-text('Eastbrook Town Centre')", back=True)  # the breadcrumb
    page.keyboard.press("Enter")
    page.wait_for_selector("#map[data-workspace-ready]")
    tab_to(page, "#network-link")
    page.keyboard.press("Enter")
    page.wait_for_selector("#network-table-link")
    tab_to(page, "#network-table-link")
    page.keyboard.press("Enter")
    page.wait_for_selector("#ties-table")
    assert page.locator("#people-table caption").count() == 1
    people = page.locator("#people-table tbody th[scope=row]").all_text_contents()
    assert people and all(p[:3] in ("YP-", "AD-", "TA-") for p in people)
    # Sort the relationships by strength, strongest first, from the column heading.
    tab_to(page, "#ties-table thead a:has-text('Strength')")
    page.keyboard.press("Enter")
    page.wait_for_selector("#ties-table th[aria-sort=ascending]")
    tab_to(page, "#ties-table thead a:has-text('Strength')")
    page.keyboard.press("Enter")
    page.wait_for_selector("#ties-table th[aria-sort=descending]")
    strengths = [int(s) for s in page.locator("#ties-table tbody tr td:nth-child(5)")
                 .all_text_contents()]
    assert strengths and strengths == sorted(strengths, reverse=True)
    assert not errors, errors
