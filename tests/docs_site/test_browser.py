"""The built site in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver` packages, driven by Selenium; nothing is downloaded).

The site is served from site/ on localhost. The checks: the home page, a reference page (the
`F1Score` entry) and a tutorial render with their content; the tutorial's figures load
(`naturalWidth > 0`); the site's search (Material's, in JavaScript) finds `F1Score`; and no page
logs a browser error (a missing asset, a script that fails). Screenshots go to out/docs/.
"""

import functools
import http.server
import shutil
import tempfile
import threading
import urllib.parse

import pytest

from tests.docs_site.conftest import OUT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
TIMEOUT = 30  # seconds to wait for a page or the search


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class' signature
        pass


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
    except ImportError:
        pytest.fail('selenium is not installed: `pip install -e ".[docs]"` (make docs-test does)')
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        pytest.fail(f"{missing} not found: install Debian's `chromium` and `chromium-driver` "
                    "(`apt-get install -y chromium chromium-driver`; .ci/run does)")
    profile = tempfile.mkdtemp(prefix="kerasext-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=1280,900",
                 "--force-prefers-reduced-motion"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(TIMEOUT)
    OUT.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, condition, message):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, TIMEOUT).until(condition, message)


def open_page(driver, url):
    driver.get(url)
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete",
             f"{url} did not finish loading")


def assert_no_browser_errors(driver, page):
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, f"{page}: the browser logged errors: {errors}"


def full_page_screenshot(driver, path, max_height=6000):
    """Resizes the window to the page's height, takes the screenshot, restores the window."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(height, 900), max_height))
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)


def test_home_page(browser, server):
    from selenium.webdriver.common.by import By

    open_page(browser, f"{server}/")
    assert "kerasext" in browser.title
    heading = browser.find_element(By.CSS_SELECTOR, "article h1")
    assert heading.text.strip() == "kerasext"
    tabs = [tab.text for tab in browser.find_elements(By.CSS_SELECTOR, ".md-tabs__link")]
    assert {"Tutorials", "Guides", "API reference"} <= set(tabs), tabs
    article = browser.find_element(By.CSS_SELECTOR, "article").text
    assert "kx.models.LogisticRegression()" in article
    assert "make docs" in article
    full_page_screenshot(browser, OUT / "home.png")
    assert_no_browser_errors(browser, "home page")


def test_reference_page_shows_f1score(browser, server):
    from selenium.webdriver.common.by import By

    open_page(browser, f"{server}/reference/metrics/#kerasext.metrics.F1Score")
    heading = browser.find_element(By.ID, "kerasext.metrics.F1Score")
    assert heading.is_displayed() and "F1Score" in heading.text
    entry = heading.find_element(By.XPATH, "./ancestor::div[contains(@class, 'doc-object')][1]")
    text = entry.text
    for expected in ("F1Score(", "num_classes", "Parameters:", "Returns:", "Example:",
                     "kx.metrics.F1Score", "Call arguments:"):
        assert expected in text, f"F1Score's entry lacks {expected!r}"
    # The page opened at the entry: its heading is in view.
    top = browser.execute_script(
        "return arguments[0].getBoundingClientRect().top", heading)
    assert 0 <= top < 400, f"the F1Score heading is at {top}px, not in view"
    browser.save_screenshot(str(OUT / "reference_f1score.png"))
    # The whole entry, from its signature to its example, in one tall screenshot.
    height = browser.execute_script("return arguments[0].getBoundingClientRect().height", entry)
    browser.set_window_size(1280, min(int(height) + 200, 6000))
    browser.execute_script("arguments[0].scrollIntoView()", heading)
    browser.save_screenshot(str(OUT / "reference_f1score_entry.png"))
    browser.set_window_size(1280, 900)
    assert_no_browser_errors(browser, "reference page")


def test_tutorial_renders_with_its_figures(browser, server):
    from selenium.webdriver.common.by import By

    open_page(browser, f"{server}/tutorials/03_overfitting/")
    assert browser.find_element(By.CSS_SELECTOR, "article h1").text == (
        "Overfitting and early stopping")
    article = browser.find_element(By.CSS_SELECTOR, "article").text
    assert "GL_5 fired after epoch" in article  # printed output of an executed cell
    assert "kx.callbacks.OverfitDetector" in article
    images = browser.find_elements(By.CSS_SELECTOR, "article img")
    assert len(images) >= 3, f"{len(images)} figures on the page"
    for image in images:
        browser.execute_script("arguments[0].scrollIntoView()", image)
        wait_for(browser, lambda d, i=image: d.execute_script("return arguments[0].complete", i),
                 f"{image.get_attribute('src')} did not load")
        width = browser.execute_script("return arguments[0].naturalWidth", image)
        assert width > 0, f"{image.get_attribute('src')} did not load (naturalWidth 0)"
        assert image.size["width"] > 200, f"{image.get_attribute('src')} shown too small"
    first = images[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", first)
    browser.save_screenshot(str(OUT / "tutorial_figure.png"))
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(OUT / "tutorial_top.png"))
    assert_no_browser_errors(browser, "tutorial page")


def test_search_finds_f1score(browser, server):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    open_page(browser, f"{server}/")
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    wait_for(browser, lambda d: box.is_displayed(), "no search box in the header")
    box.click()
    box.send_keys("F1Score")

    def results(driver):
        # Material re-renders the result list as the query settles: an item read mid-render is
        # stale, so the whole read is retried until it completes on one rendering.
        try:
            items = driver.find_elements(By.CSS_SELECTOR, ".md-search-result__item")
            if not any("F1Score" in item.text for item in items):
                return False
            return [urllib.parse.urlsplit(a.get_attribute("href")) for item in items
                    for a in item.find_elements(By.CSS_SELECTOR, "a")]
        except StaleElementReferenceException:
            return False

    links = wait_for(browser, results, "the search found nothing for F1Score")
    assert any(link.path.endswith("/reference/metrics/")
               and link.fragment == "kerasext.metrics.F1Score" for link in links), links
    browser.save_screenshot(str(OUT / "search_f1score.png"))
    # Following the first F1Score result lands on its reference entry.
    box.send_keys(Keys.ENTER)
    wait_for(browser, lambda d: "reference/metrics" in d.current_url,
             "Enter on the search result did not open the reference")
    assert_no_browser_errors(browser, "search")
