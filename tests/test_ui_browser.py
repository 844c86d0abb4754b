"""The web UI in a real browser: Debian's headless Chromium driven by Playwright, against the
app under uvicorn on localhost. Screenshots go to tests/artifacts/ (gitignored).

Skips only when Chromium is missing and CASEBOOK_REQUIRE_BROWSER is unset; CI sets it (see
scripts/install_browser_deps.sh and .ci/run), so there a missing browser fails the test.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.app import create_app
from service.container import Container
from service.models import NewCase
from tests.conftest import free_port
from tests.service_support import make_container
from tests.ui_support import TICKETS

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


def _require_browser() -> Any:
    """The Playwright module, or a skip (a failure when CASEBOOK_REQUIRE_BROWSER is set)."""
    required = bool(os.environ.get("CASEBOOK_REQUIRE_BROWSER"))
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is missing (run scripts/install_browser_deps.sh)"
    else:
        try:
            import playwright.sync_api as sync_api
        except ImportError:
            missing = "the playwright package is not installed (pip install -e '.[dev]')"
    if missing:
        if required:
            pytest.fail(f"browser tests required (CASEBOOK_REQUIRE_BROWSER) but {missing}")
        pytest.skip(f"browser tests skipped: {missing}")
    return sync_api


@dataclass
class Site:
    """The running app, its container, one key per role and the seeded case ids."""

    url: str
    container: Container
    keys: dict[str, str] = field(default_factory=dict)
    case_ids: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def sync_api() -> Any:
    return _require_browser()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sync_api: Any) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("ui-browser")
    container = make_container(tmp, f"sqlite:///{tmp / 'ui.db'}", seed_cases=80)
    ids = [
        container.cases.create(NewCase.model_validate(t), actor="test")[1].case_id for t in TICKETS
    ]
    worker = container.worker(worker_id="test")
    while worker.run_once():
        pass
    app = create_app(container=container, start_worker=False)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(400):
            if server.started:
                break
            threading.Event().wait(0.05)
        assert server.started, "uvicorn did not start"
        site = Site(url=f"http://127.0.0.1:{port}", container=container, case_ids=ids)
        for role in ("engineer", "kb_author"):
            site.keys[role], _ = container.api_keys.create(role, f"browser {role}")
        yield site
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser(sync_api: Any, site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh user-data dir
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1366, "height": 900},
        )
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    browser.clear_cookies()
    tab = browser.new_page()
    yield tab
    tab.close()


def _sign_in(page: Any, site: Site, role: str, start: str = "/ui/") -> None:
    page.goto(site.url + start)
    assert "/ui/login" in page.url
    page.get_by_label("API key").fill(site.keys[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/ui/login" not in page.url


def _shot(page: Any, name: str, *, full_page: bool = True) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def test_review_a_draft_with_the_keyboard(page: Any, site: Site) -> None:
    _sign_in(page, site, "engineer", "/ui/review")
    assert page.url.endswith("/ui/review")
    assert page.locator("a.queue-link").count() == len(site.case_ids)
    _shot(page, "review-queue")
    # The skip link is the first stop of the tab order.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    # j focuses the first case of the queue; Enter opens it.
    page.locator("h1").click()
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.className") == "queue-link"
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/cases/**")
    case_id = page.url.split("/ui/cases/")[1].split("?")[0]
    draft = site.container.cases.drafts(case_id).latest
    assert draft is not None
    current = draft.draft.routing.queue
    other = next(q for q in site.container.queues if q != current)
    assert page.locator("mark").count() > 0  # matching runbook lines are highlighted
    # e focuses the queue select; change the queue, leave the field, press a to accept.
    page.locator("h1").click()
    page.keyboard.press("e")
    assert page.evaluate("document.activeElement.id") == "review-queue"
    page.get_by_label("Queue", exact=True).select_option(other)
    page.get_by_label("Comment").fill("moved by the browser test")
    page.keyboard.press("a")  # typed into the comment box: no shortcut fires
    assert page.get_by_label("Comment").input_value().endswith("testa")
    page.get_by_label("Comment").fill("moved by the browser test")
    _shot(page, "case-before-review")
    page.locator("h1").click()
    page.keyboard.press("a")
    page.wait_for_url("**reviewed=*")
    assert "stored (edit)" in page.locator("[role=status]").inner_text()
    _shot(page, "after-review")
    [review] = site.container.cases.reviews(case_id)
    assert (review.action, review.corrected_queue) == ("edit", other)
    assert review.comment == "moved by the browser test" and review.reviewer == "browser engineer"


def test_search_shows_runbooks_with_explanations(page: Any, site: Site) -> None:
    _sign_in(page, site, "engineer", "/ui/search")
    page.get_by_label("Ticket text, error line or question").fill(
        "webhook signature verification failed after upgrading the SDK"
    )
    page.get_by_label("Look in").select_option("runbook")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    results = page.locator("#res-runbook").locator("..")
    assert "webhooks/signature-verification" in results.inner_text()
    assert page.locator(".explain").count() > 0
    _shot(page, "search")


def test_coverage_dashboard_draws_its_chart(page: Any, site: Site) -> None:
    _sign_in(page, site, "kb_author")
    assert page.url.endswith("/ui/coverage")
    chart = page.locator("svg#coverage-chart")
    chart.wait_for()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    assert page.locator("svg#coverage-chart circle.chart-point").count() > 0
    assert page.locator("svg#coverage-chart polyline.chart-line").count() > 0
    _shot(page, "coverage")


@pytest.mark.parametrize("path", ["/ui/review", "case", "/ui/search?q=refund+failed"])
def test_narrow_screens_do_not_scroll_sideways(page: Any, site: Site, path: str) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    _sign_in(page, site, "engineer", "/ui/review")
    target = f"/ui/cases/{site.case_ids[-1]}" if path == "case" else path
    page.goto(site.url + target)
    assert page.evaluate(NO_OVERFLOW), f"{target} overflows 375px"
    name = "case" if path == "case" else path.split("/")[2].split("?")[0]
    _shot(page, f"narrow-{name}")
    _shot(page, f"narrow-{name}-first-screen", full_page=False)


def test_narrow_coverage_dashboard(page: Any, site: Site) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    _sign_in(page, site, "kb_author")
    assert page.evaluate(NO_OVERFLOW)
    _shot(page, "narrow-coverage")
