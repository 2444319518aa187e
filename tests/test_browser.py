"""The page in a real browser: Debian's chromium driven by Playwright, against the server on a
free loopback port. Draw a digit with mouse strokes and read the prediction shown; drop in a
photo of a number and read the digits shown. Saves docs/serve.png, the README's screenshot.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from recipes import serve
from test_serve import make_project, running, strip

CHROMIUM = shutil.which("chromium")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT = ROOT / "docs" / "serve.png"
DEBUG_SHOTS = Path(os.environ["SERVE_SHOTS"]) if os.environ.get("SERVE_SHOTS") else None


def strokes_of_a_seven(x0, y0):
    """A 7 as a hand draws it on the 280x280 pad: the bar, then the stem."""
    return [[(x0 + 75, y0 + 60), (x0 + 205, y0 + 58)],
            [(x0 + 205, y0 + 58), (x0 + 165, y0 + 140), (x0 + 125, y0 + 235)]]


def strokes_of_a_zero(x0, y0):
    return [[(x0 + 140 + 55 * math.sin(t), y0 + 145 - 90 * math.cos(t))
             for t in np.linspace(0, 2 * math.pi, 40)]]


def draw(page, strokes):
    for stroke in strokes:
        page.mouse.move(*stroke[0])
        page.mouse.down()
        for a, b in zip(stroke, stroke[1:]):
            page.mouse.move(*b, steps=max(2, int(math.dist(a, b) / 8)))  # pointermove events
        page.mouse.up()


@pytest.fixture(scope="module")
def url(tmp_path_factory, mnist_train):
    project = make_project(tmp_path_factory, mnist_train)
    with running(serve.create_app(project / "models", model="t")) as url:
        yield url


@pytest.fixture(scope="module")
def page(url):
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 600})  # the screenshot's size
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"{r.url}: {r.failure}"))
            page.goto(url)
            page.wait_for_selector("#model option[value=t]", state="attached")
            yield page
            assert not errors, errors
        finally:
            browser.close()


def shown(page, text, timeout=20_000):
    # Playwright's own matchers: the page's Content-Security-Policy forbids eval'd predicates
    from playwright.sync_api import expect
    expect(page.locator("#digits")).to_have_text(text, timeout=timeout)


def test_draw_a_digit_and_see_the_prediction(page):
    from playwright.sync_api import expect
    box = page.locator("#pad").bounding_box()
    draw(page, strokes_of_a_zero(box["x"], box["y"]))
    shown(page, "0")
    page.locator("#clear").click()
    shown(page, "\u2013")
    draw(page, strokes_of_a_seven(box["x"], box["y"]))
    shown(page, "7")
    assert page.locator("#bars .bar").count() == 10
    assert page.locator("#bars .bar.top .label").inner_text() == "7"
    assert page.locator("#inputs img").count() == 1  # the 28x28 image the model saw
    assert page.locator("#inputs img").evaluate("img => img.complete && img.naturalWidth") == 28
    page.screenshot(path=str(SCREENSHOT))
    page.locator("#undo").click()  # the stem gone: a bar alone is no 7
    expect(page.locator("#digits")).not_to_have_text("7")
    page.locator("#undo").click()
    shown(page, "\u2013")


def test_upload_a_photo_and_see_the_digits(page, right_digits, tmp_path):
    from playwright.sync_api import expect
    number, digits = right_digits
    photo, _ = strip(digits, scale=4)
    path = tmp_path / "number.jpg"
    Image.fromarray(photo).convert("RGB").save(path, quality=92)
    page.set_viewport_size({"width": 1200, "height": 700})  # room for the photo beside
    page.set_input_files("#file", str(path))
    shown(page, number)
    assert page.locator("#photo").get_attribute("data-boxes") == str(len(number))
    assert page.locator("#inputs img").count() == len(number)
    if DEBUG_SHOTS:
        page.screenshot(path=str(DEBUG_SHOTS / "photo.png"))
    page.select_option("#model", "lin")  # the picker: the same photo read by another model
    expect(page.locator("#status")).to_contain_text(", lin:")


@pytest.fixture(scope="module")
def right_digits(mnist_test, tmp_path_factory, mnist_train):
    """A number whose digits the CNN reads right one by one."""
    from recipes import models
    Xt, yt = mnist_test
    cnn = models.load(make_project(tmp_path_factory, mnist_train) / "models" / "t")
    ok = cnn.predict(Xt[:500]) == yt[:500]
    number = "2051"
    return number, [Xt[np.flatnonzero(ok & (yt[:500] == int(c)))[0]] for c in number]
