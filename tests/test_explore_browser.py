"""``cnnlab explore`` in a real browser: headless Chromium driven by Selenium.

Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package are installed
by ``tools/install-test-deps.sh`` (the README's test command and ``.ci/run``); a missing
one fails these tests. Screenshots of every view are saved under the test's temporary
folder (``pytest --basetemp=DIR`` keeps them where you want them).
"""

from __future__ import annotations

import base64
import shutil

import numpy as np
import pytest

import cnnlab
from cnnlab import receptive, shapes
from cnnlab.cli.predict import load_model
from cnnlab.data import MNIST, to_tensor

from explore_helpers import RunningServer, train_checkpoint

from selenium import webdriver  # a missing package fails these tests, never skips them
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,1600")
CONV2 = 4  # the page's layer index: input, conv1, relu1, pool1, conv2


@pytest.fixture(scope="module")
def model_run(tmp_path_factory):
    return load_model(train_checkpoint(tmp_path_factory.mktemp("run") / "checkpoint.npz"))


@pytest.fixture(scope="module")
def server(model_run):
    model, run = model_run
    running = RunningServer(model, run, test_set=MNIST(train=False, download=False))
    yield running
    running.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    for program in (CHROMIUM, DRIVER):
        assert shutil.which(program), (f"{program} is missing: run tools/install-test-deps.sh "
                                       "(apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, server):
    browser.get(server.url)
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
    return browser


def wait_text(driver, element_id, condition, timeout=30):
    """The text of ``#element_id`` once the page has no request left in flight and
    ``condition(text)`` holds."""
    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("return settled()")
        and condition(d.find_element(By.ID, element_id).text))
    return driver.find_element(By.ID, element_id).text


def shot(driver, element_id, path):
    """A PNG of the whole of ``#element_id``, even where it runs past the window."""
    box = driver.execute_script(
        "const b = arguments[0].getBoundingClientRect();"
        "return [b.left + window.scrollX, b.top + window.scrollY, b.width, b.height];",
        driver.find_element(By.ID, element_id))
    clip = dict(zip(("x", "y", "width", "height"), box), scale=1)
    data = driver.execute_cdp_cmd("Page.captureScreenshot",
                                  {"format": "png", "clip": clip, "captureBeyondViewport": True})
    path.write_bytes(base64.b64decode(data["data"]))
    assert path.stat().st_size > 1000


def page_digit(driver) -> np.ndarray:
    return np.array(driver.execute_script("return state.digit"), np.uint8).reshape(28, 28)


def forward(model, digit, run, upto=None):
    """cnnlab's own forward of the page's digit (through layer ``upto`` if given)."""
    x = to_tensor(digit[None], tuple(run["normalize"]))
    layers = list(model.children())[:upto]
    with cnnlab.no_grad():
        for layer in layers:
            x = layer(x)
    return x.numpy()[0]


def draw_one(driver):
    """A vertical stroke down the middle of the drawing canvas: a 1."""
    canvas = driver.find_element(By.ID, "draw")
    ActionChains(driver).move_to_element_with_offset(canvas, 0, -90).click_and_hold() \
        .move_by_offset(-4, 45).move_by_offset(-3, 45).move_by_offset(-3, 45) \
        .move_by_offset(-2, 40).release().perform()


def test_drawn_one_is_predicted_live(page, model_run, tmp_path):
    model, run = model_run
    draw_one(page)
    text = wait_text(page, "prediction", lambda t: t.startswith("1 - one"))
    digit = page_digit(page)
    assert digit.max() > 200 and (digit > 100).sum() > 20  # the stroke reached the server
    probabilities = forward(model, digit, run)
    probabilities = np.exp(probabilities - probabilities.max())
    probabilities /= probabilities.sum()
    assert int(probabilities.argmax()) == 1
    assert text == f"1 - one ({probabilities[1]:.3f})"
    bars = page.find_elements(By.CSS_SELECTOR, "#probabilities .prob")
    assert len(bars) == 10 and bars[1].get_attribute("class") == "prob best"
    shot(page, "input-section", tmp_path / "1-input.png")
    shot(page, "overview-section", tmp_path / "2-overview.png")
    shot(page, "gradient-section", tmp_path / "4-gradients.png")
    columns = page.find_elements(By.CSS_SELECTOR, "#overview .layer")
    shapes_shown = [c.find_element(By.CLASS_NAME, "shape").text for c in columns]
    assert shapes_shown[:7] == ["1x28x28", "6x28x28", "6x28x28", "6x14x14", "16x10x10",
                                "16x10x10", "16x5x5"]


def test_conv2_cell_shows_field_and_sum(page, model_run, tmp_path):
    model, run = model_run
    page.find_element(By.ID, "test-index").clear()
    page.find_element(By.ID, "test-index").send_keys("0")
    page.find_element(By.ID, "test-pick").click()
    wait_text(page, "input-notes", lambda t: "test image 0" in t)
    channel, row, col = 3, 2, 7
    canvas = page.find_element(By.CSS_SELECTOR,
                               f'#overview canvas[data-layer="{CONV2}"][data-channel="{channel}"]')
    size = canvas.size["width"]
    cell = size / 10
    ActionChains(page).move_to_element_with_offset(
        canvas, (col + 0.5) * cell - size / 2, (row + 0.5) * cell - size / 2).click().perform()
    total = wait_text(page, "neuron-total", lambda t: t.startswith("="))
    expected = forward(model, page_digit(page), run, upto=CONV2)[channel, row, col]
    assert abs(float(total[1:]) - expected) <= 0.6e-4, (total, expected)
    assert f"{expected:.4f}" in page.find_element(By.ID, "neuron-model").text
    assert page.find_element(By.ID, "neuron-title").text.startswith(f"conv2[{channel}, {row}, {col}]")
    products = page.find_elements(By.CSS_SELECTOR, "#arithmetic .channel")
    assert len(products) == 6  # one window x kernel = products per input channel
    # The outline: the receptive field from cnnlab.receptive, clipped to the input.
    fields = receptive.receptive_fields(receptive.parse_layers("conv5p2,pool2,conv5"), (28, 28))
    (top, bottom), (left, right) = fields[-1].span((row, col))
    top, bottom, left, right = max(top, 0), min(bottom, 27), max(left, 0), min(right, 27)
    outline = page.find_element(By.ID, "rf-outline")
    image = page.find_element(By.ID, "neuron-input")
    scale = (image.size["width"] - 2) / 28  # 1-pixel border on each side
    box = page.execute_script("""
        const o = arguments[0].getBoundingClientRect(), i = arguments[1].getBoundingClientRect();
        return [o.left - i.left - 1, o.top - i.top - 1, o.width, o.height];""", outline, image)
    assert [round(v / scale, 3) for v in box] == [left, top, right - left + 1, bottom - top + 1]
    assert (top, bottom, left, right) == (2, 15, 12, 25)
    shot(page, "neuron-section", tmp_path / "3-neuron.png")
    shot(page, "gradient-section", tmp_path / "4-neuron-gradient.png")
    gradient = page.execute_script(
        "return document.getElementById('neuron-saliency-text').textContent")
    assert "conv2[3, 2, 7]" in gradient


def test_corrupt_upload_shows_message(page, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    page.find_element(By.ID, "upload").send_keys(str(broken))
    text = wait_text(page, "input-message", lambda t: "broken.png" in t)
    assert text.startswith("broken.png: cannot read this file:"), text
    assert page.find_element(By.ID, "input-message").get_attribute("class") == "error"
    shot(page, "input-section", tmp_path / "5-corrupt-upload.png")
    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(3 * 1024 * 1024))
    page.find_element(By.ID, "upload").send_keys(str(huge))
    text = wait_text(page, "input-message", lambda t: t.startswith("huge.png"))
    assert text == "huge.png: the file is 3,145,736 bytes; at most 2,097,152 are accepted"


def test_playground_output_size_and_error(page, tmp_path):
    def set_field(element_id, value):
        field = page.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(value)

    set_field("pg-input", "8,8")
    set_field("pg-kernel", "5")
    set_field("pg-padding", "0,1")
    set_field("pg-stride", "3,4")
    expected = shapes.conv2d_output_shape((8, 8), 5, stride=(3, 4), padding=(0, 1))
    text = wait_text(page, "pg-output", lambda t: t == f"output: {expected[0]}x{expected[1]}")
    assert text == "output: 2x2"
    formula = page.find_element(By.ID, "pg-formula").text
    assert "floor((8 + 1 + 1 - 1*(5-1) - 1) / 4) + 1 = 2" in formula
    set_field("pg-padding", "same")
    set_field("pg-stride", "2")
    wait_text(page, "pg-output", lambda t: t == "output: 4x4")
    shot(page, "playground-section", tmp_path / "6-playground.png")
    set_field("pg-input", "3")
    set_field("pg-padding", "0")
    error = wait_text(page, "pg-error", lambda t: t.startswith("conv2d:"))
    with pytest.raises(ValueError) as raised:
        cnnlab.functional.conv2d(cnnlab.zeros(1, 1, 3, 3), cnnlab.zeros(1, 1, 5, 5), stride=2)
    assert error == " ".join(str(raised.value).split())
    assert page.find_element(By.ID, "pg-output").text == ""
    shot(page, "playground-section", tmp_path / "7-playground-error.png")
