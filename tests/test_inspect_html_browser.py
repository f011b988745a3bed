"""The graph page in a real browser: Debian's Chromium driven by Playwright for Python.
The page is opened from a file; a derivative node is clicked and its provenance and the
forward node's highlight must appear; a name is searched; a path is followed; a part is
collapsed; screenshots go to the test's tmp dir. Skipped (saying why) only where
Playwright or a Chromium cannot be had; `.ci/run` installs Chromium with apt."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

import symdiff as sd
from tests.test_inspect_html import deep_mlp
from tests.test_inspect_models import xor

LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("SYMDIFF_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="Playwright for Python is not installed (pip install playwright, or the "
               "project's [test] extra)")
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run "
                    "does it)")
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        except Exception as err:  # noqa: BLE001 - a browser that cannot start is a skip
            pytest.skip(f"Chromium at {path} did not start: {err}"[:300])
        yield b
        b.close()


def open_page(browser, path: Path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='1']")
    return page, errors, requests


def page_data(path: Path) -> dict:
    text = path.read_text()
    return json.loads(re.search(r'id="sd-data">(.*?)</script>', text, re.S).group(1))


def test_click_a_derivative_node_search_and_follow_a_path(browser, tmp_path):
    model = xor()
    path = sd.to_html([model.loss, *model.grads], tmp_path / "xor.html")
    data = page_data(path)
    nodes = data["nodes"]
    k = next(k for k, n in enumerate(nodes)
             if n.get("prov") and n["prov"]["forward"] >= 0 and "src" in n)
    forward = nodes[nodes[k]["prov"]["forward"]]
    page, errors, requests = open_page(browser, path)
    assert page.locator("g.n").count() == len(nodes)

    page.click(f"g.n[data-k='{k}']")
    prov = page.locator("#sd-prov").inner_text()
    assert nodes[k]["prov"]["what"] in prov and nodes[k]["prov"]["rule"] in prov
    assert "(highlighted)" in prov
    highlighted = page.locator("g.n.fwd")
    assert highlighted.count() == 1
    assert highlighted.get_attribute("data-id") == forward["id"]
    assert page.locator("g.n.sel").get_attribute("data-k") == str(k)
    assert nodes[k]["src"]["text"] in page.locator("#sd-src").inner_text()
    assert page.locator("#sd-op").inner_text() == nodes[k]["op"]
    page.screenshot(path=str(tmp_path / "clicked.png"))

    page.fill("#sd-search", "yhat")
    page.press("#sd-search", "Enter")
    assert page.locator("#sd-count").inner_text() == "1 match"
    assert page.locator("g.n.match").get_attribute("data-id") == next(
        n["id"] for n in nodes if n["name"] == "yhat")
    assert "yhat" in page.locator("#sd-title").inner_text()

    page.select_option("#sd-from", label=next(f"{n['id']} W" for n in nodes
                                              if n["name"] == "W"))
    page.select_option("#sd-to", label=next(f"{n['id']} loss" for n in nodes
                                            if n["name"] == "loss"))
    page.click("#sd-path")
    on_path = {page.locator("g.n.on-path").nth(j).get_attribute("data-id")
               for j in range(page.locator("g.n.on-path").count())}
    names = {n["id"]: n["name"] for n in nodes}
    assert {"W", "h", "yhat", "loss"} <= {names[i] for i in on_path}
    assert "c" not in {names[i] for i in on_path}
    assert page.locator("path.e.on-path").count() >= len(on_path) - 1

    page.click("#sd-toggle-derivative")
    assert not page.locator("g.n.s-derivative").first.is_visible()
    assert page.locator("#sd-ph-derivative").is_visible()
    page.click("#sd-toggle-derivative")
    assert page.locator("g.n.s-derivative").first.is_visible()
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    assert (tmp_path / "page.png").stat().st_size > 10_000
    assert errors == []
    assert all(url.startswith("file:") for url in requests)
    page.close()


def test_a_700_node_gradient_stays_usable(browser, tmp_path):
    path = sd.to_html(deep_mlp(64), tmp_path / "deep.html")
    data = page_data(path)
    page, errors, _ = open_page(browser, path)
    assert page.locator("g.n").count() == len(data["nodes"]) >= 700
    page.fill("#sd-search", "W3")
    page.press("#sd-search", "Enter")
    assert page.locator("#sd-count").inner_text().endswith("match") or \
        page.locator("#sd-count").inner_text().endswith("matches")
    k = max(k for k, n in enumerate(data["nodes"]) if n.get("prov", {}).get("forward", -1) >= 0)
    page.click(f"g.n[data-k='{k}']")
    assert page.locator("g.n.fwd").count() == 1
    page.click("#sd-path")
    assert "nodes on the path" in page.locator("#sd-count").inner_text()
    page.screenshot(path=str(tmp_path / "deep.png"))
    assert errors == []
    page.close()


def test_hostile_names_show_as_text_and_run_nothing(browser, tmp_path):
    from tests.test_inspect_html import HOSTILE

    x = sd.var(HOSTILE, shape=(3,))
    loss = sd.sum(sd.tanh(x) ** 2).named("<img src=x onerror=alert(2)>")
    path = sd.to_html([loss, sd.grad(loss, x)], tmp_path / "hostile.html", title=HOSTILE)
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("img").count() == 0
    assert "</script><script>alert(1)" in page.locator("#sd-bar h1").inner_text()
    page.click("g.n[data-id='%0']")
    assert "</script>" in page.locator("#sd-title").inner_text()
    page.fill("#sd-search", "onerror")
    page.press("#sd-search", "Enter")
    assert page.locator("#sd-count").inner_text() == "1 match"
    assert dialogs == []
    page.close()
