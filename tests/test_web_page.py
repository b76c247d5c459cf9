"""The web pages in a real browser: search, filter, read a document, cross to other offices.

Headless Chromium (Debian's, driven by Playwright) uses the real ``bridge serve`` over the
sample corpus: the session fixtures ``server`` and ``env`` of conftest.py, shared with the
other end-to-end modules so the corpus is ingested once. Each page's screenshot is kept
under ``$BRIDGE_TEST_ARTIFACTS`` (default: pytest's temporary directory) for a person to
look at; with ``BRIDGE_SCREENSHOTS=docs/screenshots`` the laptop-width search and document
screenshots are also copied there, for the documentation (a deliberate run, not every run).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Cookie,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from api.local_server import create_key
from api.page_views import highlighted
from tests.helpers import CORPUS, REPO

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 60_000  # a shared 2-core machine; the first bridge query warms word vectors

PLANTED = {f["id"]: f for f in yaml.safe_load((CORPUS / "planted.yaml").read_text("utf-8"))}
HF = PLANTED["hf-weight-alert"]
FRENCH_QUERY = "les alertes de prise de poids réduisent les réhospitalisations"  # README's
SILENTIA_BERLIN = "berlin/decks/2023-10-silentia-deck.pdf"
SILENTIA_MADRID = "madrid/decks/2023-11-silentia-deck-compartido.pdf"

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def documents(server: httpx.Client) -> dict[str, int]:
    """Every stored document's id by its path relative to corpus/."""
    page = server.get("/documents", params={"limit": 200}).json()
    root = "corpus/"  # the API names files by their source: corpus/ or its offices
    return {d["source_path"].removeprefix(root): d["id"] for d in page["documents"]}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    playwright: Playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()


def open_page(browser: Browser, server: httpx.Client, viewport: dict[str, int]) -> Page:
    """A fresh tab on the server; it sends the test client's API key, if it has one."""
    key = {k: v for k, v in server.headers.items() if k.lower() == "authorization"}
    context = browser.new_context(viewport=viewport, base_url=str(server.base_url),
                                  extra_http_headers=key)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


@pytest.fixture
def laptop(browser: Browser, server: httpx.Client) -> Iterator[Page]:
    page = open_page(browser, server, LAPTOP)
    yield page
    page.context.close()


@pytest.fixture
def phone(browser: Browser, server: httpx.Client) -> Iterator[Page]:
    page = open_page(browser, server, PHONE)
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def artifacts(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: $BRIDGE_TEST_ARTIFACTS, else a temporary directory."""
    folder = env.get("BRIDGE_TEST_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("web-page")
    path.mkdir(parents=True, exist_ok=True)
    return path


def screenshot(page: Page, artifacts: Path, env: dict[str, str], name: str,
               publish: bool = False) -> None:
    """Keep the page as ``name``.png; a published one also goes to $BRIDGE_SCREENSHOTS."""
    path = artifacts / f"{name}.png"
    page.screenshot(path=path)
    if publish and env.get("BRIDGE_SCREENSHOTS"):
        target = REPO / env["BRIDGE_SCREENSHOTS"]
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / path.name)


def search_url(query: str, **params: str) -> str:
    return "/?" + urlencode({"q": query, **params})


def facet_counts(page: Page, facet: str) -> dict[str, int]:
    """The numbers shown beside one filter's options."""
    options = page.locator(f"label.option[data-facet='{facet}']")
    return {options.nth(i).get_attribute("data-value"):
            int(options.nth(i).locator(".count").inner_text().split()[0])
            for i in range(options.count())}


def result_ids(page: Page) -> list[int]:
    cards = page.locator("ol.results > li")
    return [int(cards.nth(i).get_attribute("data-doc-id")) for i in range(cards.count())]


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_french_query_finds_the_boston_finding_first(laptop: Page, documents: dict[str, int],
                                                        artifacts: Path,
                                                        env: dict[str, str]) -> None:
    laptop.goto("/")
    laptop.get_by_label("Your question or keywords, in any language").fill(FRENCH_QUERY)
    laptop.keyboard.press("Enter")
    laptop.wait_for_url(re.compile(r"/\?q=les\+alertes"))
    first = laptop.locator("ol.results > li").first
    assert first.get_attribute("data-doc-id") == str(documents[HF["boston"]])
    expect(first.locator(".badge.office")).to_have_text("Boston")
    expect(first.locator(".passage mark").first).to_be_visible()
    # the passage's place in the interview: its speakers and its minutes
    expect(first.locator(".provenance").first).to_have_text(
        re.compile(r"speaker .*Okafor.*, \d\d:\d\d–\d\d:\d\d"))
    link = first.locator(".where a").first
    assert link.get_attribute("href") == f"/documents/{documents[HF['boston']]}/file"
    # PDF results open at their page
    assert laptop.locator("a[href*='/file#page=']").count() >= 1
    screenshot(laptop, artifacts, env, "search", publish=True)


def test_a_filter_narrows_the_results_and_the_counts(laptop: Page, artifacts: Path,
                                                     env: dict[str, str]) -> None:
    laptop.goto(search_url(FRENCH_QUERY))
    offices, languages = facet_counts(laptop, "office"), facet_counts(laptop, "language")
    assert sum(1 for n in offices.values() if n) == 4 and languages["de"] > 0

    laptop.locator("label.option[data-facet='office'][data-value='Paris'] input").check()
    laptop.get_by_role("button", name="Apply filters").click()
    laptop.wait_for_url(re.compile(r"office=Paris"))

    expect(laptop.locator("label.option[data-value='Paris'] input")).to_be_checked()
    badges = laptop.locator("ol.results > li .badges .badge.office")
    assert badges.count() > 0 and set(badges.all_inner_texts()) == {"Paris"}
    filtered = facet_counts(laptop, "office")
    assert filtered["Paris"] > 0 and sum(filtered.values()) == filtered["Paris"]
    assert filtered != offices
    after = facet_counts(laptop, "language")
    assert after["de"] == 0 and after["fr"] > 0 and after != languages
    expect(laptop.get_by_role("link", name="Clear filters")).to_be_visible()
    screenshot(laptop, artifacts, env, "filtered")


def test_the_document_view_shows_provenance_and_bridges(laptop: Page, documents: dict[str, int],
                                                        artifacts: Path,
                                                        env: dict[str, str]) -> None:
    boston, berlin = documents[HF["boston"]], documents[HF["europe"]]
    laptop.goto(f"/view/{boston}")
    expect(laptop.locator("h1")).to_contain_text("Okafor")
    chunks = laptop.locator("li.chunk")
    assert chunks.count() > 1
    expect(chunks.nth(1).locator(".provenance")).to_have_text(re.compile(r"speaker .*\d\d:\d\d"))

    bridge = laptop.locator(f"article.bridge[data-doc-id='{berlin}']")
    expect(bridge).to_be_visible()
    here, there = bridge.locator(".pair").first.locator("figure.side").all()
    expect(here.locator(".badge.lang")).to_have_text("en")
    expect(there.locator(".badge.lang")).to_have_text("de")
    expect(there).to_contain_text("Berlin")
    # side by side at laptop width: the same top, the target to the right
    left, right = here.bounding_box(), there.bounding_box()
    assert left and right and abs(left["y"] - right["y"]) < 1 and right["x"] > left["x"]
    terms = [t.lower() for t in bridge.locator(".terms").first.locator(".term").all_inner_texts()]
    assert "weight = gewicht" in terms, terms
    screenshot(laptop, artifacts, env, "document", publish=True)


def test_the_silentia_deck_shows_its_twin_in_madrid(laptop: Page,
                                                     documents: dict[str, int]) -> None:
    laptop.goto(f"/view/{documents[SILENTIA_BERLIN]}")
    twin = laptop.locator(f"#near-duplicates li.twin[data-doc-id='{documents[SILENTIA_MADRID]}']")
    expect(twin.locator(".badge.office")).to_have_text("Madrid")
    expect(twin).to_contain_text("A copy")


def test_the_keyboard_reaches_the_search_box_and_its_button(laptop: Page) -> None:
    laptop.goto(search_url(FRENCH_QUERY))
    laptop.keyboard.press("Tab")
    skip = laptop.locator(".skip")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["y"] >= 0  # shown when focused
    for _ in range(10):
        if laptop.evaluate("document.activeElement.id") == "q":
            break
        laptop.keyboard.press("Tab")
    expect(laptop.locator("#q")).to_be_focused()
    laptop.keyboard.press("Tab")
    submit = laptop.locator("#submit")
    expect(submit).to_be_focused()
    assert submit.evaluate("b => getComputedStyle(b).outlineStyle") != "none"  # visible focus
    laptop.keyboard.press("Enter")
    laptop.wait_for_load_state()
    expect(laptop.locator("ol.results > li").first).to_be_visible()


def test_phone_width_has_no_horizontal_scroll(phone: Page, documents: dict[str, int],
                                              artifacts: Path, env: dict[str, str]) -> None:
    phone.goto(search_url(FRENCH_QUERY))
    expect(phone.locator("ol.results > li").first).to_be_visible()
    assert no_horizontal_scroll(phone)
    screenshot(phone, artifacts, env, "phone")
    phone.locator("#filters > summary").click()  # folded away at this width
    expect(phone.locator("#filters fieldset").first).to_be_visible()
    assert no_horizontal_scroll(phone)
    phone.goto(f"/view/{documents[HF['boston']]}")
    expect(phone.locator("article.bridge").first).to_be_visible()
    assert no_horizontal_scroll(phone)
    screenshot(phone, artifacts, env, "phone-document")


def test_the_navigation_leads_to_the_bridge_map(laptop: Page) -> None:
    blocked = csp_violations(laptop)
    laptop.goto("/")
    laptop.get_by_role("navigation", name="Site").get_by_role("link", name="Bridge map").click()
    laptop.wait_for_url(re.compile(r"/map$"))
    expect(laptop.locator("h1")).to_have_text("Bridge map")
    expect(laptop.locator("[data-figure] svg").first).to_be_visible()  # drawn under the CSP
    assert blocked == []


def csp_violations(page: Page) -> list[str]:
    """The console's reports of what the page's content policy blocked, as they come."""
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    return blocked


@pytest.mark.parametrize(("path", "title"), [("/docs", ".swagger-ui .title"), ("/redoc", "h1")])
def test_the_api_documentation_opens_on_a_machine_without_internet(
        laptop: Page, path: str, title: str) -> None:
    loaded: list[str] = []  # what the viewer runs and looks like: scripts, styles, fonts
    laptop.on("request", lambda request: loaded.append(request.url) if request.resource_type
              in ("script", "stylesheet", "font", "fetch", "xhr") else None)
    blocked = csp_violations(laptop)
    laptop.goto(path)
    expect(laptop.locator(title).first).to_contain_text("Knowledge Bridge")
    base = laptop.url.split(path)[0]
    assert loaded and all(url.startswith((base, "blob:")) for url in loaded), loaded
    # Redoc's footer asks a CDN for its logo: the policy refuses it, nothing else
    assert [m for m in blocked if "cdn.redoc.ly/redoc/logo" not in m] == []


def test_highlights_are_marked_and_every_piece_escaped() -> None:
    snippet = "a <b>weight</b> & weight alert"
    assert highlighted(snippet, [(16, 17), (3, 4), (18, 24), (20, 99)]) == (
        "a &lt;<mark>b</mark>&gt;weight&lt;/b&gt; <mark>&amp;</mark> <mark>weight</mark>"
        "<mark> alert</mark>")
    assert highlighted("", [(0, 3)]) == ""


@pytest.mark.parametrize(("path", "media_type"), [
    (HF["boston"], "text/vtt"), (SILENTIA_BERLIN, "application/pdf")])
def test_the_original_file_is_served_as_stored(server: httpx.Client, documents: dict[str, int],
                                               path: str, media_type: str) -> None:
    response = server.get(f"/documents/{documents[path]}/file")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.content == (CORPUS / path).read_bytes()


def test_unknown_documents_are_404(server: httpx.Client) -> None:
    assert server.get("/documents/999999/file").status_code == 404
    for path in ("/view/999999", "/view/not-a-number", "/view/²", "/view/" + "9" * 4301):
        response = server.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "No such document" in response.text


@pytest.mark.parametrize(("params", "message"), [
    ({"doc_type": "memo"}, "There is no document type “memo”"),
    ({"office": "Atlantis"}, "There is no office “Atlantis”. Choose among: Berlin, Boston"),
    ({"date_from": "2024-13-01"}, "is not a date"),
    ({"date_from": "2025-01-01", "date_to": "2024-01-01"}, "The date range is empty"),
    ({"mode": "fuzzy"}, "There is no search mode “fuzzy”"),
    ({"offset": "-1"}, "The page offset must be a whole number"),
    ({"offset": "²"}, "The page offset must be a whole number"),
    ({"offset": "9" * 4301}, "The page offset must be a whole number"),
])
def test_a_bad_filter_value_is_explained_not_a_500(server: httpx.Client, params: dict[str, str],
                                                    message: str) -> None:
    response = server.get("/", params={"q": "heart failure", **params})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in response.text and message in response.text


def test_the_query_is_escaped_and_an_empty_result_says_so(server: httpx.Client) -> None:
    response = server.get("/", params={"q": "<script>alert(1)</script>"})
    assert response.status_code == 200
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    response = server.get("/", params={"q": "zzqxvw", "mode": "lexical"})
    assert response.status_code == 200
    assert 'id="empty"' in response.text and "No documents match" in response.text


def test_the_page_asks_for_a_key_and_keeps_it_for_the_session(
        browser: Browser, server: httpx.Client, env: dict[str, str], artifacts: Path) -> None:
    """No key: the sign-in page; a key limited to Paris: only Paris, kept in an HttpOnly
    session cookie; a wrong key: a message, no cookie."""
    key = create_key(env, "paris-reader", "read", offices=("Paris",))
    context = browser.new_context(viewport=LAPTOP, base_url=str(server.base_url))
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto("/?" + urlencode({"q": "heart failure weight alert"}))
        expect(page).to_have_url(re.compile(r"/sign-in\?next="))
        page.get_by_label("API key").fill("kb_not-a-key")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("unknown")
        assert session_cookies(context) == []
        page.get_by_label("API key").fill(key)
        page.screenshot(path=str(artifacts / "sign-in.png"))
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"q=heart"))  # back where it was going
        [cookie] = session_cookies(context)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] == -1
        assert cookie["value"] != key  # a session id, never the key
        offices = page.locator("ol.results .badge.office").all_inner_texts()
        assert offices and set(offices) == {"Paris"}, offices
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/sign-in"))
        page.goto("/")  # the session ended with the sign-out
        expect(page).to_have_url(re.compile(r"/sign-in\?next="))
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        page.goto("/sign-in?next=//evil.example/")  # never sent to another site
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{server.base_url}/")
    finally:
        context.close()


def session_cookies(context: BrowserContext) -> list[Cookie]:
    return [c for c in context.cookies() if c["name"] == "bridge_session"]
