"""The console in a real headless Chromium (Debian's chromium + chromium-driver, driven
by Selenium) against a real embedded FaceFleet served over HTTP, with two projects.

Screenshots go to ``$FACEFLEET_CONSOLE_SCREENSHOTS`` when set (``docs/console`` refreshes
the README's pictures; only MIT-licensed face_recognition photos appear in them), else to
the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from werkzeug.serving import make_server

from infra.settings import JobSettings
from tests.conftest import FACES_DIR
from tests.console.browser import set_viewport
from tests.support.stack import Stack, start_stack

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
OPERATOR_TOKEN = "console-operator-token"
DESKTOP = (1280, 800)
PHONE = (390, 844)
# face_recognition's examples (MIT): redistributable in the screenshots.
ENROLL_FOLDER = {
    "obama": ["face_recognition-obama/obama.jpg", "face_recognition-obama/obama2.jpg"],
    "biden": ["face_recognition-biden/biden.jpg", "face_recognition-biden/biden2.jpg"],
    "kit_harington": [
        "face_recognition-kit_harington/john1.jpeg",
        "face_recognition-kit_harington/john2.jpeg",
    ],
    "rose_leslie": ["face_recognition-rose_leslie/img1.jpg", "face_recognition-rose_leslie/img2.jpg"],
}
GROUP_PHOTO = (FACES_DIR / "_misc" / "multi_face" / "face_recognition__obama_and_biden.jpg").resolve()


@dataclass
class Console:
    url: str
    stack: Stack
    app: Any
    project_a: tuple[str, str]
    project_b: tuple[str, str]
    photos: Path
    screenshots: Path


@pytest.fixture(scope="package")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    from api.app import create_app
    from api.fleet_history import FleetSampler
    from api.routes.fleet import MONITOR_KEY
    from facefleet.admin import create_project

    for binary in (CHROMIUM, CHROMEDRIVER):
        if not Path(binary).exists():
            pytest.fail(f"{binary} is missing: apt-get install -y chromium chromium-driver (.ci/run does)")
    home = tmp_path_factory.mktemp("console")
    photos = home / "people"
    for person, files in ENROLL_FOLDER.items():
        (photos / person).mkdir(parents=True)
        for name in files:
            shutil.copy(FACES_DIR / name, photos / person / Path(name).name)
    screenshots = Path(os.environ.get("FACEFLEET_CONSOLE_SCREENSHOTS") or home / "screenshots")
    screenshots.mkdir(parents=True, exist_ok=True)
    with start_stack(home, workers=1, jobs=JobSettings(batch_chunk_size=2, sync_wait_seconds=60.0)) as stack:
        settings = stack.settings.model_copy(
            update={"api": stack.settings.api.model_copy(update={"admin_token": SecretStr(OPERATOR_TOKEN)})}
        )
        first = create_project(settings, "console-a")
        second = create_project(settings, "console-b")
        app = create_app(settings)
        FleetSampler(app.extensions["facefleet"], app.extensions[MONITOR_KEY]).sample_now()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Console(
                url=f"http://127.0.0.1:{server.server_port}",
                stack=stack,
                app=app,
                project_a=(first.project_id, first.api_key),
                project_b=(second.project_id, second.api_key),
                photos=photos,
                screenshots=screenshots,
            )
        finally:
            server.shutdown()


@pytest.fixture(scope="package")
def browser(console: Console, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--hide-scrollbars",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    downloads = tmp_path_factory.mktemp("downloads")
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.downloads = downloads  # type: ignore[attr-defined]
    set_viewport(driver, DESKTOP)
    try:
        yield driver
    finally:
        driver.quit()
