"""The web page in a real browser: ``python app.py`` on the released model, driven by headless Chromium
(Debian's chromium and chromium-driver, which ``make test-browser`` installs) through Selenium.

Screenshots go to ``$MATTING_SCREENSHOTS`` (default ``outputs/browser_test/``).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import pytest
from awkward import write_corpus

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER), reason="no chromium / chromedriver (make test-browser)"
    ),
]
gradio_client = pytest.importorskip(
    "gradio_client", reason="the .[app] extra is not installed (make test-browser)"
)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (make test-browser)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python app.py`` on the released model: its address and its temporary folder."""
    logs = tmp_path_factory.mktemp("app")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(
        [sys.executable, "app.py", f"port={free_port()}", f"hydra.run.dir={logs}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue = queue.Queue()  # the server's output, read all along: its pipe never fills

    def drain():
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=drain, daemon=True).start()
    url = workdir = None
    seen = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not workdir and process.poll() is None:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if line.startswith("serving "):
            url = line.split(" at ")[1].split()[0]
        if line.startswith("uploads and outputs: "):
            workdir = Path(line.split(": ", 1)[1].split(" (")[0])
    assert url and workdir, "".join(seen[-30:])
    yield {"url": url, "workdir": workdir, "process": process}
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    rest = "".join(lines.queue)
    assert process.returncode == 0, rest[-2000:]
    assert not workdir.exists(), "the uploads' folder outlived the server"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("profile")
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1400,1300",
    ):  # fmt: skip
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    folder = Path(os.environ.get("MATTING_SCREENSHOTS", ROOT / "outputs" / "browser_test"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def real_photo(tmp_path_factory) -> Path:
    """Grace Hopper's portrait, as matplotlib ships it: a real photo of a person."""
    from matplotlib import cbook

    path = tmp_path_factory.mktemp("photos") / "grace_hopper.jpg"
    shutil.copy(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), path)
    return path


def message(driver) -> str:
    return driver.find_element(By.ID, "message").text


def upload(driver, path: Path, expect: str) -> str:
    """Drop ``path`` on the photo input; wait for the page's message to change to one with ``expect``."""
    before = message(driver)
    driver.find_element(By.CSS_SELECTOR, "#photo input[type=file]").send_keys(str(path))
    WebDriverWait(driver, 120).until(lambda d: message(d) != before and expect in message(d))
    return message(driver)


def test_a_photo_a_broken_file_and_another_photo_in_the_page(
    server, browser, real_photo, screenshots, tmp_path
):
    browser.get(server["url"])
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#photo input[type=file]"))

    said = upload(browser, real_photo, "matted in")
    assert said.startswith("grace_hopper.jpg: 512x600, matted in ")
    browser.save_screenshot(str(screenshots / "photo.png"))
    (screenshots / "photo.json").write_text(json.dumps({"message": said}) + "\n")
    browser.find_element(By.ID, "download").click()
    png = browser.downloads / "grace_hopper_rgba.png"
    WebDriverWait(browser, 60).until(lambda d: png.is_file() and png.stat().st_size > 0)
    rgba = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (600, 512, 4)
    alpha = rgba[..., 3]
    assert 0.1 < (alpha >= 128).mean() < 0.9  # a person, neither nothing nor everything
    assert alpha[300, 256] > 200 and alpha[20, 20] < 50  # her face and the flag's corner

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really a JPEG")
    said = upload(browser, broken, "Cannot matte this")
    assert "broken.jpg: not a readable image" in said and str(tmp_path) not in said
    browser.save_screenshot(str(screenshots / "broken.png"))

    again = upload(browser, real_photo, "matted in")
    assert again.startswith("grace_hopper.jpg: 512x600")
    assert server["process"].poll() is None


def test_a_mask_drawn_on_the_photo_is_refined_alone(server, browser, real_photo, screenshots):
    from selenium.webdriver.common.action_chains import ActionChains

    browser.get(server["url"])
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#photo input[type=file]"))
    upload(browser, real_photo, "(coarse net and refinement)")
    browser.find_element(By.XPATH, "//button[contains(., 'Your own mask')]").click()
    tab = "//button[normalize-space()='Draw on the photo']"
    WebDriverWait(browser, 10).until(
        lambda d: [b for b in d.find_elements(By.XPATH, tab) if b.is_displayed()]
    )
    next(b for b in browser.find_elements(By.XPATH, tab) if b.is_displayed()).click()
    WebDriverWait(browser, 10).until(
        lambda d: [c for c in d.find_elements(By.CSS_SELECTOR, "canvas") if c.is_displayed()]
    )
    canvas = [c for c in browser.find_elements(By.CSS_SELECTOR, "canvas") if c.is_displayed()][-1]
    # A stroke down the middle of the photo: the refinement's alpha follows it, not the coarse net.
    ActionChains(browser).move_to_element_with_offset(canvas, 0, -60).click_and_hold().move_by_offset(
        0, 120
    ).release().perform()
    browser.find_element(By.ID, "matte").click()
    WebDriverWait(browser, 60).until(lambda d: "refined from your mask" in message(d))
    browser.save_screenshot(str(screenshots / "drawn.png"))
    for old in browser.downloads.iterdir():
        old.unlink()
    browser.find_element(By.ID, "download").click()
    png = browser.downloads / "grace_hopper_rgba.png"
    WebDriverWait(browser, 60).until(lambda d: png.is_file() and png.stat().st_size > 0)
    alpha = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)[..., 3]
    assert alpha[300, 256] > 128  # on the stroke
    assert alpha[550, 40] < 64  # her jacket, far from the stroke: the person for the coarse net, not here


def test_uploads_at_once_are_queued_and_every_awkward_file_answered(server, real_photo, tmp_path):
    client = gradio_client.Client(server["url"], verbose=False, download_files=str(tmp_path / "client"))

    def matte(path):
        return client.predict(
            gradio_client.handle_file(str(path)), None, None, "#00b140", None, api_name="/matte"
        )

    with ThreadPoolExecutor(3) as pool:  # three people at once: all served, one after another
        answers = list(pool.map(matte, [real_photo] * 3))
    assert all("grace_hopper.jpg: 512x600, matted in" in a[-1] for a in answers)

    cases = write_corpus(tmp_path / "corpus")
    for case in cases:
        if case.name == "folder.jpg":
            continue  # a folder cannot be uploaded
        said = matte(tmp_path / "corpus" / case.name)[-1]
        if case.size is None:
            assert said.startswith(f"**Cannot matte this:** {case.name}: "), said
        else:
            assert f"{case.name}: {case.size[0]}x{case.size[1]}, matted in" in said, said
    assert server["process"].poll() is None
    assert list(server["workdir"].iterdir())  # what was uploaded went to the server's own folder
