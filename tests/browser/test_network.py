"""A peer assessor records young people after a meeting and sees them drawn as a group."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login

pytestmark = pytest.mark.browser

NODE = """label => {
  const n = window.locmapNetwork.nodes().filter(x => x.data('label') === label)[0];
  return {group: n.data('group'), colour: n.data('colour'), shape: n.style('shape'),
          reaches: n.data('reaches'), kind: n.data('kind')};
}"""


def _record(page: Any, kind: str = "young_person", links: tuple[str, ...] = (),
            valence: str = "neutral", place: str | None = None) -> str:
    form = page.locator("#person-form")
    form.locator("select[name=kind]").select_option(kind)
    for i, name in enumerate(links):
        form.locator(f"input[name=link_{i}]").fill(name)
        form.locator(f"select[name=link_{i}_valence]").select_option(valence)
        if valence == "harmful":
            form.locator(f"select[name=link_{i}_type]").select_option("exploitative")
    if place:
        form.locator("label.check", has_text=place).locator("input").check()
    form.locator("button[type=submit]").click()
    flash = page.locator(".flash-ok").first
    flash.wait_for()
    found = re.search(r"Recorded ((?:YP|AD|TA)-\d{3})", flash.inner_text())
    assert found, flash.inner_text()
    return found.group(1)


def test_record_three_young_people_and_a_linked_adult(page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, "peer.assessor@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    page.click("text=Eastbrook Town Centre")
    page.click("#network-link")
    page.wait_for_selector("#network-graph[data-nodes-rendered]")
    assert "Purpose:" in page.locator("#purpose").inner_text()
    first = _record(page, place="Eastbrook Library")
    second = _record(page, links=(first,), place="Eastbrook Library")
    third = _record(page, links=(first, second))
    adult = _record(page, kind="adult_of_concern", links=(first, third), valence="harmful")
    assert adult.startswith("AD-")
    page.wait_for_selector("#network-graph[data-nodes-rendered]")
    a, b, c = (page.evaluate(NODE, p) for p in (first, second, third))
    assert a["group"] and a["group"] == b["group"] == c["group"]
    assert a["colour"] == b["colour"] == c["colour"] != "#b0bec5"
    other = page.evaluate(NODE, "YP-001")
    assert other["group"] != a["group"] and other["colour"] != a["colour"]
    ad = page.evaluate(NODE, adult)
    assert ad["shape"] == "diamond" and sorted(ad["reaches"]) == sorted([first, third])
    harmful = page.evaluate(
        "() => window.locmapNetwork.edges(\"[valence = 'harmful']\")[0].style('line-style')")
    assert harmful == "dashed"
    assert page.locator("#adult-list li", has_text=f"{adult} linked to 2 young people").count() == 1
    page.evaluate(f"() => window.locmapNetwork.nodes().filter(n => n.data('label') === "
                  f"'{adult}').emit('tap')")
    assert first in page.locator("#selected [data-field=reaches]").inner_text()
    assert errors == []


def test_network_map_and_group_summary(page: Any) -> None:
    login(page, "reviewer.police@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    page.click("text=Eastbrook Town Centre")
    page.click("#network-link")
    expect(page.locator("#shared-places li", has_text="Eastbrook Library")).to_have_count(1)
    assert page.locator("#person-form").count() == 0  # partners read, never record
    page.click("text=Network on the map")
    page.wait_for_selector("#map[data-group-lines]")
    assert int(page.locator("#map").get_attribute("data-group-lines")) >= 2
    assert page.locator(".group-label").count() >= 2
    page.click("#map-groups a >> nth=0")
    expect(page.locator("#group-members li").nth(1)).to_be_attached()  # two or more
