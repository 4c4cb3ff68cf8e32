"""The demo in a real browser: headless Chromium (Debian's `chromium`, driven by
Playwright's Python package) opens the page, draws a stroke with the mouse, waits for G's
output to appear and to change after a second stroke, and saves a screenshot. No request
may leave 127.0.0.1. Skipped, with one line saying how to install it, without a browser."""
import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytest.importorskip("gradio", reason='the demo needs Gradio: pip install -e ".[demo]"')
playwright = pytest.importorskip(
    "playwright.sync_api", reason="no Playwright: pip install playwright (browsers come "
    "from the system: apt-get install chromium)")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# No downloads, no background traffic, no GPU on a server; --no-sandbox for root in CI.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Set to a path to keep the screenshot (the README's picture comes from this test).
SCREENSHOT = os.environ.get("PIX2PIX_DEMO_SCREENSHOT")


@pytest.fixture(scope="module")
def page(server):
    if CHROMIUM is None:
        pytest.skip("no browser: as root, apt-get install -y chromium (Debian/Ubuntu)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 820})
        page.outside_requests = []

        def only_local(route):
            if urlparse(route.request.url).hostname not in ("127.0.0.1", "localhost"):
                page.outside_requests.append(route.request.url)
                return route.abort()
            return route.continue_()

        page.route("**/*", only_local)
        page.goto(server[0], wait_until="networkidle")
        yield page
        browser.close()


def stroke(page, start, end, steps=8):
    """Drag the mouse across the canvas from start to end (fractions of its size)."""
    box = page.locator("#canvas canvas").first.bounding_box()
    at = [(box["x"] + box["width"] * (s + (e - s) * k / steps),
           box["y"] + box["height"] * (t + (u - t) * k / steps))
          for k in range(steps + 1) for (s, t), (e, u) in [(start, end)]]
    page.mouse.move(*at[0])
    page.mouse.down()
    for point in at[1:]:
        page.mouse.move(*point)
    page.mouse.up()


def output_source(page):
    image = page.locator("#output img")
    return image.first.get_attribute("src") if image.count() else None


def wait_for_new_output(page, before):
    """Wait until G's output shows a picture other than ``before`` (a src, or None)."""
    page.wait_for_function("(before) => { const img = document.querySelector('#output img');"
                           " return img !== null && img.getAttribute('src') !== before; }",
                           arg=before, timeout=30_000)
    return output_source(page)


def canvas_pixels(page):
    """A PNG of the canvas as the page shows it."""
    return page.locator("#canvas canvas").first.screenshot()


def wait_for_canvas_to_settle(page, before, polls=60):
    """Wait until the canvas shows something other than ``before`` (a canvas_pixels PNG)
    and holds still for two polls 250 ms apart. A progress overlay left on the canvas (its
    timer ticking: the demo once left one up after an example had loaded) never holds
    still, and a stroke drawn on it selects the page's text instead of painting."""
    previous = before
    for _ in range(polls):
        page.wait_for_timeout(250)
        now = canvas_pixels(page)
        if now != before and now == previous:
            return
        previous = now
    raise AssertionError("the canvas did not settle on the picked example within 15 s")


def test_strokes_and_examples_update_the_output(page, tmp_path):
    page.wait_for_load_state("networkidle")               # a blank canvas may already show
    blank = output_source(page)                            # G's output on a loaded machine
    stroke(page, (0.3, 0.3), (0.7, 0.6))                 # on the blank canvas
    drawn = wait_for_new_output(page, blank)
    before_example = canvas_pixels(page)
    page.locator("#examples img").first.click()          # an example from the val split
    example = wait_for_new_output(page, drawn)
    wait_for_canvas_to_settle(page, before_example)      # the example, ready to paint on
    stroke(page, (0.35, 0.45), (0.65, 0.45))             # paint over the example
    wait_for_new_output(page, example)
    shot = tmp_path / "demo.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 1000
    if SCREENSHOT:
        shutil.copyfile(shot, Path(SCREENSHOT))
    assert page.outside_requests == []                    # nothing left the machine
