"""Selenium helpers for the console tests: wait for what a person would wait for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as expected
from selenium.webdriver.support.ui import Select, WebDriverWait

TIMEOUT = 120


def wait(driver: Any, seconds: float = 30) -> WebDriverWait:
    return WebDriverWait(driver, seconds, poll_frequency=0.2)


def open_page(driver: Any, url: str, hash_path: str) -> None:
    """A fresh load of the console (a new hash alone would not reload the page)."""
    driver.get("about:blank")
    driver.get(f"{url}/console/#/{hash_path}")
    wait(driver).until(lambda d: d.execute_script("return document.querySelector('main h1') !== null"))


def go(driver: Any, hash_path: str) -> None:
    driver.execute_script("location.hash = arguments[0]", f"#/{hash_path}")


def heading(driver: Any) -> str:
    # Read in one script: pages replace their elements as they load.
    return str(
        driver.execute_script("const h = document.querySelector('main h1'); return h ? h.textContent : ''")
    )


def wait_heading(driver: Any, text: str) -> None:
    wait(driver).until(lambda d: text in heading(d))


def message(driver: Any, seconds: float = 30) -> str:
    """The page's message banner once it shows something."""
    script = "const m = document.getElementById('message'); return m.hidden ? '' : m.textContent.trim()"
    return str(wait(driver, seconds).until(lambda d: d.execute_script(script)))


def labelled(driver: Any, label: str) -> Any:
    """The control whose <label> reads ``label``: every control is reachable by its label."""
    element = driver.find_element(By.XPATH, f"//label[normalize-space()={_xpath_text(label)}]")
    return driver.find_element(By.ID, element.get_attribute("for"))


def select_by_value(element: Any, value: str) -> None:
    Select(element).select_by_value(value)


def click(driver: Any, text: str) -> None:
    button = wait(driver).until(
        expected.element_to_be_clickable((By.XPATH, f"//button[normalize-space()={_xpath_text(text)}]"))
    )
    button.click()


def sign_in(driver: Any, url: str, project_id: str, api_key: str) -> None:
    driver.get(f"{url}/console/")
    driver.execute_script("sessionStorage.clear()")
    driver.get(f"{url}/console/#/signin")
    wait_heading(driver, "Sign in")
    labelled(driver, "Project id").clear()
    labelled(driver, "Project id").send_keys(project_id)
    labelled(driver, "API key").send_keys(api_key)
    click(driver, "Sign in")


def screenshot(driver: Any, folder: Path, name: str) -> None:
    """Every page pictured is also checked: each of its controls has a label."""
    assert_every_control_labelled(driver)
    driver.execute_script("document.activeElement && document.activeElement.blur()")
    driver.save_screenshot(str(folder / f"{name}.png"))


def _xpath_text(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    return 'concat("' + text.replace('"', '", \'"\', "') + '")'


def set_viewport(driver: Any, size: tuple[int, int], mobile: bool = False) -> None:
    """The page's viewport exactly ``size`` CSS pixels (a window's size includes its frame)."""
    width, height = size
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )


UNLABELLED_CONTROLS = """
return [...document.querySelectorAll('input, select, textarea, button')]
  .filter((c) => c.offsetParent !== null || c.type === 'file')
  .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label') && !(c.tagName === 'BUTTON' && c.textContent.trim()))
  .map((c) => c.outerHTML.slice(0, 120));
"""


def assert_every_control_labelled(driver: Any) -> None:
    unlabelled = driver.execute_script(UNLABELLED_CONTROLS)
    assert unlabelled == [], unlabelled
