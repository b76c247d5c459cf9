"""The bridge map page: what it shows, the figures it embeds, and that it stays safe.

The maps are built by hand, so these tests need no model; the page is parsed with the
standard library rather than drawn in a browser.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from api.map_page import render_map_html, theme_label
from search.records import BridgeMap, OfficeLink, OfficeThemes, Theme, ThemeCount

LOCAL_SRC = "/static/plotly.min.js"
HOSTILE = "</script><script>alert(1)</script>"


def realistic_map() -> BridgeMap:
    """Four offices, five themes labelled in four languages, five links."""
    themes = [
        Theme(id=0, chunks=40,
              labels={"en": ["readmission", "weight", "nurse", "discharge"],
                      "fr": ["réadmission", "poids"], "de": ["Wiederaufnahme"]},
              offices={"Boston": 18, "Paris": 12, "Berlin": 10}),
        Theme(id=1, chunks=25, labels={"fr": ["tarif", "remboursement", "mutuelle"],
                                       "es": ["tarifa", "reembolso"]},
              offices={"Paris": 15, "Madrid": 10}),
        Theme(id=2, chunks=12, labels={"de": ["Pflegekraft", "Schicht", "Dienstplan"]},
              offices={"Berlin": 12}),
        Theme(id=3, chunks=20, labels={"es": ["telemedicina", "consulta", "vídeo"],
                                       "en": ["telehealth", "video"]},
              offices={"Madrid": 11, "Boston": 9}),
        Theme(id=4, chunks=8, labels={"en": ["sensor", "wearable", "battery"]},
              offices={"Boston": 8}),
    ]
    offices = [
        OfficeThemes(office="Boston", documents=14, chunks=35, shared=[0, 3], only=[4]),
        OfficeThemes(office="Paris", documents=9, chunks=27, shared=[0, 1], only=[]),
        OfficeThemes(office="Berlin", documents=7, chunks=22, shared=[0], only=[2]),
        OfficeThemes(office="Madrid", documents=6, chunks=21, shared=[1, 3], only=[]),
    ]
    links = [
        OfficeLink(offices=("Boston", "Paris"), strength=0.42, bridges=26,
                   themes=[ThemeCount(theme=0, bridges=20), ThemeCount(theme=3, bridges=6)]),
        OfficeLink(offices=("Paris", "Madrid"), strength=0.31, bridges=15,
                   themes=[ThemeCount(theme=1, bridges=15)]),
        OfficeLink(offices=("Boston", "Madrid"), strength=0.25, bridges=14,
                   themes=[ThemeCount(theme=3, bridges=14)]),
        OfficeLink(offices=("Boston", "Berlin"), strength=0.18, bridges=10,
                   themes=[ThemeCount(theme=0, bridges=9), ThemeCount(theme=2, bridges=1)]),
        OfficeLink(offices=("Berlin", "Paris"), strength=0.12, bridges=6,
                   themes=[ThemeCount(theme=0, bridges=6)]),
    ]
    return BridgeMap(generation=3, link_similarity=0.82, themes=themes, offices=offices,
                     links=links)


def empty_map() -> BridgeMap:
    return BridgeMap(generation=0, link_similarity=0.8, themes=[], offices=[], links=[])


def hostile_map() -> BridgeMap:
    """An office and terms made of markup and script, linked to a plain office."""
    theme = Theme(id=7, chunks=3, labels={"en": ["<b>bold</b>", "a&b", '"quoted"']},
                  offices={HOSTILE: 2, "Lyon": 1})
    return BridgeMap(
        generation=1, link_similarity=0.8, themes=[theme],
        offices=[OfficeThemes(office=HOSTILE, documents=1, chunks=2, shared=[7], only=[]),
                 OfficeThemes(office="Lyon", documents=1, chunks=1, shared=[7], only=[])],
        links=[OfficeLink(offices=(HOSTILE, "Lyon"), strength=0.5, bridges=2,
                          themes=[ThemeCount(theme=7, bridges=2)])])


class Outline(HTMLParser):
    """Collects the headings, the table headers, and any tag closed out of order."""

    VOID = frozenset({"meta", "link", "br", "hr", "img", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.mismatched: list[str] = []
        self.h2: list[str] = []
        self.th = 0
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.th += tag == "th"
        self._in_h2 = self._in_h2 or tag == "h2"
        if tag == "h2":
            self.h2.append("")
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.mismatched.append(tag)
        self._in_h2 = self._in_h2 and tag != "h2"

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.h2[-1] += data.strip()


def outline(page: str) -> Outline:
    parser = Outline()
    parser.feed(page)
    parser.close()
    assert not parser.mismatched, parser.mismatched
    assert not parser.open, parser.open
    return parser


def figures(page: str) -> dict:
    """The figure JSON the page embeds for plotly to draw."""
    found = re.search(r'<script type="application/json" id="figures">(.*?)</script>', page,
                      re.DOTALL)
    assert found, "no embedded figures"
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def page() -> str:
    return render_map_html(realistic_map(), plotly_src=LOCAL_SRC)


def test_theme_label_takes_three_terms_of_the_best_labelled_language() -> None:
    themes = realistic_map().themes
    assert theme_label(themes[0]) == "readmission · weight · nurse"
    assert theme_label(themes[1]) == "tarif · remboursement · mutuelle"
    assert theme_label(Theme(id=9, chunks=1, labels={}, offices={})) == "theme 9"


def test_page_shows_every_office_theme_and_section(page: str) -> None:
    bridge_map = realistic_map()
    parsed = outline(page)
    assert parsed.h2 == ["How the offices connect", "Strength matrix", "Offices", "Themes"]
    assert parsed.th >= 4 + len(bridge_map.themes)
    assert "<h1>Bridge map</h1>" in page
    assert "Generation <strong>3</strong>" in page
    assert "0.82" in page
    for office in bridge_map.offices:
        assert f"<h3>{office.office}</h3>" in page
    for theme in bridge_map.themes:
        assert theme_label(theme) in page
        for lang, terms in theme.labels.items():
            assert f'lang="{lang}"' in page
            assert all(term in page for term in terms)


def test_office_cards_split_shared_and_only_themes(page: str) -> None:
    cards = re.findall(r'<article class="card".*?</article>', page, re.DOTALL)
    assert len(cards) == 4
    berlin = next(card for card in cards if "<h3>Berlin</h3>" in card)
    shared, only = berlin.split("Only here")
    assert "readmission" in shared and "Pflegekraft" not in shared
    assert "Pflegekraft" in only
    paris = next(card for card in cards if "<h3>Paris</h3>" in card)
    assert "Every theme here is covered elsewhere too." in paris


def test_graph_has_one_edge_per_link_and_one_node_per_office(page: str) -> None:
    bridge_map = realistic_map()
    graph = figures(page)["graph"]
    edges = [trace for trace in graph["data"] if trace["mode"] == "lines"]
    assert len(edges) == len(bridge_map.links)
    widths = [edge["line"]["width"] for edge in edges]
    assert widths == sorted(widths, reverse=True)  # the links come strongest first
    nodes = next(trace for trace in graph["data"] if trace.get("name") == "offices")
    assert len(nodes["x"]) == len(bridge_map.offices)
    boston, madrid = nodes["marker"]["size"][0], nodes["marker"]["size"][3]
    assert boston > madrid
    mids = next(trace for trace in graph["data"] if trace.get("name") == "links")
    assert mids["text"][0] == "readmission · weight · nurse"
    assert "42%" in mids["hovertext"][0] and "26 bridges" in mids["hovertext"][0]
    assert "telehealth" not in mids["hovertext"][0]
    assert "telemedicina · consulta · vídeo" in mids["hovertext"][0]


def test_matrix_is_symmetric_with_the_link_strengths(page: str) -> None:
    bridge_map = realistic_map()
    matrix = figures(page)["matrix"]["data"][0]
    names, z = matrix["x"], matrix["z"]
    assert names == matrix["y"] == [o.office for o in bridge_map.offices]
    n = len(names)
    assert all(z[i][i] is None for i in range(n))
    assert all(z[i][j] == z[j][i] for i in range(n) for j in range(n))
    for link in bridge_map.links:
        i, j = (names.index(office) for office in link.offices)
        assert z[i][j] == link.strength
    assert z[names.index("Berlin")][names.index("Madrid")] == 0
    assert "Pflegekraft" in matrix["hovertext"][names.index("Boston")][names.index("Berlin")]


def test_local_plotly_source_keeps_the_page_small(page: str) -> None:
    assert f'<script src="{LOCAL_SRC}"></script>' in page
    assert "plotly.js v" not in page
    assert len(page.encode()) < 200_000
    assert "http://" not in page and "https://" not in page


def test_default_page_inlines_plotly_and_stands_alone() -> None:
    page = render_map_html(realistic_map())
    assert "plotly.js v" in page
    assert len(page.encode()) > 1_000_000
    assert "<script src=" not in page
    assert page.count("<script") == 3  # plotly.js, the figure data, the code drawing them
    outline(page)


def test_empty_map_says_nothing_is_indexed() -> None:
    page = render_map_html(empty_map())
    parsed = outline(page)
    assert parsed.h2 == ["Nothing indexed yet"]
    assert "<script" not in page
    assert "Generation <strong>0</strong>" in page


def test_single_office_has_a_graph_but_no_matrix() -> None:
    solo = BridgeMap(
        generation=2, link_similarity=0.8,
        themes=[Theme(id=0, chunks=5, labels={"fr": ["budget"]}, offices={"Paris": 5})],
        offices=[OfficeThemes(office="Paris", documents=2, chunks=5, shared=[], only=[0])],
        links=[])
    page = render_map_html(solo, plotly_src=LOCAL_SRC)
    assert outline(page).h2 == ["How the offices connect", "Offices", "Themes"]
    assert "there is only one office" in page
    graph = figures(page)
    assert list(graph) == ["graph"]
    assert [trace["name"] for trace in graph["graph"]["data"]] == ["offices"]
    assert "No theme in common with another office." in page


def test_many_offices_are_all_drawn() -> None:
    names = [f"Office {i}" for i in range(12)]
    ring = BridgeMap(
        generation=5, link_similarity=0.8,
        themes=[Theme(id=0, chunks=24, labels={"en": ["audit"]},
                      offices={name: 2 for name in names})],
        offices=[OfficeThemes(office=name, documents=1, chunks=2, shared=[0], only=[])
                 for name in names],
        links=[OfficeLink(offices=(a, b), strength=(10 + i) / 100, bridges=2,
                          themes=[ThemeCount(theme=0, bridges=2)])
               for i, (a, b) in enumerate(zip(names, names[1:] + names[:1], strict=True))])
    drawn = figures(render_map_html(ring, plotly_src=LOCAL_SRC))
    assert sum(trace["mode"] == "lines" for trace in drawn["graph"]["data"]) == 12
    z = drawn["matrix"]["data"][0]["z"]
    assert len(z) == 12 and z[0][1] == z[1][0] == 0.1 and z[11][0] == 0.21


def test_hostile_names_and_terms_are_escaped() -> None:
    page = render_map_html(hostile_map(), plotly_src=LOCAL_SRC)
    assert HOSTILE not in page
    assert "alert(1)</script>" not in page
    assert page.count("<script") == 3
    assert page.count("</script>") == 3
    assert "<b>bold</b>" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page  # in the card
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    outline(page)
    drawn = figures(page)
    nodes = next(trace for trace in drawn["graph"]["data"] if trace.get("name") == "offices")
    # plotly reads text as markup, so the names reach it escaped, as text to show
    as_text = "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    assert nodes["text"][0] == f"<b>{as_text}</b>"
    assert drawn["matrix"]["data"][0]["x"][0] == as_text
