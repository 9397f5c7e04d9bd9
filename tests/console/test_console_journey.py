"""An operator's journey through the console in a real headless Chromium: each test
continues where the previous one left the browser (one face set, enrolled once)."""

from __future__ import annotations

import csv
import json
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.conftest import FACES_DIR
from tests.console.browser import (
    TIMEOUT,
    click,
    go,
    labelled,
    message,
    open_page,
    screenshot,
    select_by_value,
    set_viewport,
    sign_in,
    wait,
    wait_heading,
)
from tests.console.conftest import DESKTOP, GROUP_PHOTO, OPERATOR_TOKEN, PHONE, Console

pytestmark = [pytest.mark.integration, pytest.mark.model]

FACE_SET = "console-people"


def api_get(console: Console, path: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(f"{console.url}{path}", headers={"X-Auth-Token": token})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            return response.status, json.loads(
                body
            ) if response.headers.get_content_type() == "application/json" else body
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_a_wrong_key_is_refused_in_words(browser: Any, console: Console) -> None:
    project_id, _ = console.project_a
    sign_in(browser, console.url, project_id, "ffk_not-a-real-key")
    text = message(browser)
    assert "Sign-in failed" in text and "do not match" in text, text
    assert browser.execute_script("return sessionStorage.length") == 0
    screenshot(browser, console.screenshots, "sign-in-error")


def test_sign_in_and_create_a_face_set(browser: Any, console: Console) -> None:
    # By keyboard alone: the page focuses the first field; Tab to the key, Enter submits.
    project_id, api_key = console.project_a
    open_page(browser, console.url, "signin")
    wait(browser).until(lambda d: d.switch_to.active_element.get_attribute("name") == "project_id")
    active = browser.switch_to.active_element
    active.clear()
    active.send_keys(project_id, Keys.TAB)
    browser.switch_to.active_element.send_keys(api_key, Keys.ENTER)
    wait_heading(browser, "Face sets")
    assert "api_key" not in browser.current_url and console.project_a[1] not in browser.current_url
    labelled(browser, "Name").send_keys(FACE_SET)
    click(browser, "Add a field")
    labelled(browser, "Field name").send_keys("team")
    click(browser, "Create face set")
    assert f"Created face set {FACE_SET}" in message(browser)
    wait(browser).until(lambda d: d.find_elements(By.LINK_TEXT, FACE_SET))
    row = browser.find_element(By.XPATH, f"//tr[td/a[text()='{FACE_SET}']]").text
    assert "team (string)" in row and " 0 " in f" {row} "
    screenshot(browser, console.screenshots, "face-sets")


def test_bulk_enroll_a_folder_reaches_100_percent(browser: Any, console: Console) -> None:
    go(browser, "enroll")
    wait_heading(browser, "Bulk enroll")
    select_by_value(labelled(browser, "Face set"), FACE_SET)
    labelled(browser, "Choose a folder").send_keys(str(console.photos))
    wait(browser).until(lambda d: "8 images in 4 folders" in d.find_element(By.CSS_SELECTOR, ".chosen").text)
    click(browser, "Enroll")
    seen: set[str] = set()

    def finished(driver: Any) -> bool:
        seen.add(driver.find_element(By.CSS_SELECTOR, ".progress-text").text)
        failure = driver.execute_script(
            "const m = document.querySelector('#message.error'); return m && !m.hidden ? m.textContent : ''"
        )
        assert not failure, f"{failure} after {sorted(seen)}"
        return "Enrolled: 8 of 8 (100%)" in driver.find_element(By.CSS_SELECTOR, ".progress-text").text

    wait(browser, TIMEOUT).until(finished)
    progress = browser.find_element(By.CSS_SELECTOR, "progress")
    assert progress.get_attribute("value") == progress.get_attribute("max") == "8"
    browser.execute_script("document.querySelector('progress').scrollIntoView()")
    assert "8 added · 0 duplicates · 0 rejected" in browser.find_element(By.CSS_SELECTOR, ".counts").text
    report_rows = browser.find_elements(By.CSS_SELECTOR, "table.report tbody tr")
    assert sorted(row.find_elements(By.TAG_NAME, "td")[2].text for row in report_rows) == sorted(
        ["obama", "obama", "biden", "biden", "kit_harington", "kit_harington", "rose_leslie", "rose_leslie"]
    )
    assert any(text.startswith(("Enrolling", "Uploading")) for text in seen), seen
    screenshot(browser, console.screenshots, "bulk-enroll")
    status, body = api_get(console, f"/v1/{console.project_a[0]}/face-sets/{FACE_SET}", console.project_a[1])
    assert status == 200 and body["face_set_info"]["face_number"] == 8


def test_the_grid_shows_every_face_and_a_face_its_source_photo(browser: Any, console: Console) -> None:
    go(browser, f"sets/{FACE_SET}")
    wait_heading(browser, f"Faces of {FACE_SET}")
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".grid .tile")) == 8)
    wait(browser).until(
        lambda d: all(
            img.get_attribute(
                "src",
            )
            or ""
            for img in d.find_elements(By.CSS_SELECTOR, ".tile img")
        )
    )
    wait(browser).until(
        lambda d: d.execute_script(
            "return [...document.querySelectorAll('.tile img')].every(i => i.complete && i.naturalWidth > 0)"
        )
    )
    screenshot(browser, console.screenshots, "faces")
    select_by_value(labelled(browser, "Person (user_id)"), "obama")
    wait(browser).until(
        lambda d: (
            {t.get_attribute("data-user-id") for t in d.find_elements(By.CSS_SELECTOR, ".tile")} == {"obama"}
        )
    )
    browser.find_element(By.CSS_SELECTOR, ".tile a").click()
    wait_heading(browser, "Face ")
    wait(browser).until(
        lambda d: d.execute_script(
            "const i = document.querySelector('.photo img'); return i && i.complete && i.naturalWidth > 0"
        )
    )
    box = browser.find_element(By.CSS_SELECTOR, ".photo .box")
    assert box.size["width"] > 10 and box.size["height"] > 10
    screenshot(browser, console.screenshots, "face")


def test_search_boxes_every_face_of_a_group_photo(browser: Any, console: Console) -> None:
    go(browser, "search")
    wait_heading(browser, "Search")
    select_by_value(labelled(browser, "Face set"), FACE_SET)
    labelled(browser, "Photo").send_keys(str(GROUP_PHOTO))
    wait(browser, TIMEOUT).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".results .result"))
    results = browser.find_elements(By.CSS_SELECTOR, ".results .result")
    boxes = browser.find_elements(By.CSS_SELECTOR, ".stage .box")
    assert len(boxes) == len(results) >= 2
    labels = [box.get_attribute("data-label") for box in boxes]
    assert {"obama", "biden"} <= set(labels), labels
    assert set(labels) <= {"obama", "biden", "kit_harington", "rose_leslie", "unknown"}
    wait(browser).until(
        lambda d: d.execute_script(
            "return [...document.querySelectorAll('.matches img')].every(i => i.complete && i.naturalWidth > 0)"
        )
    )
    screenshot(browser, console.screenshots, "search")
    labelled(browser, "First photo").send_keys(str(console.photos / "obama" / "obama.jpg"))
    labelled(browser, "Second photo").send_keys(str(console.photos / "obama" / "obama2.jpg"))
    click(browser, "Compare")
    wait(browser, TIMEOUT).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".similarity-line"))
    similarity = float(browser.find_element(By.CSS_SELECTOR, ".similarity-line").text.split(": ")[1])
    assert similarity > 0.5 and len(browser.find_elements(By.CSS_SELECTOR, ".side-by-side .box")) == 2
    # The slider re-filters the answer already received: nothing reaches 1.0.
    requests_before = browser.execute_script("return performance.getEntriesByType('resource').length")
    browser.execute_script(
        "const s = document.getElementById('threshold'); s.value = 1; s.dispatchEvent(new Event('input'))"
    )
    labels = [
        box.get_attribute("data-label") for box in browser.find_elements(By.CSS_SELECTOR, ".stage .box")
    ]
    assert labels == ["unknown"] * len(results)
    assert (
        "Unknown: no enrolled face at or above 1.00" in browser.find_element(By.CSS_SELECTOR, ".results").text
    )
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == requests_before


def test_a_non_image_upload_is_explained(browser: Any, console: Console, tmp_path: Path) -> None:
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("these are meeting notes, not a photo\n")
    go(browser, "sets")
    go(browser, "search")
    wait_heading(browser, "Search")
    labelled(browser, "Photo").send_keys(str(not_an_image))
    text = message(browser, TIMEOUT)
    assert "The request was refused" in text and "FRS.01" in text, text
    screenshot(browser, console.screenshots, "search-error")


def test_deleting_a_person_empties_the_grid_of_them(browser: Any, console: Console) -> None:
    go(browser, "sets")
    go(browser, f"sets/{FACE_SET}")
    wait_heading(browser, f"Faces of {FACE_SET}")
    select_by_value(labelled(browser, "Person (user_id)"), "biden")
    wait(browser).until(
        lambda d: (
            {t.get_attribute("data-user-id") for t in d.find_elements(By.CSS_SELECTOR, ".tile")} == {"biden"}
        )
    )
    click(browser, "Delete this person")
    dialog = wait(browser).until(lambda d: d.find_element(By.CSS_SELECTOR, "dialog[open]"))
    assert 'every face of "biden"' in dialog.text
    click(browser, "Delete biden")
    assert "Deleted person biden" in message(browser, TIMEOUT)
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".grid .tile")) == 6)
    users = {t.get_attribute("data-user-id") for t in browser.find_elements(By.CSS_SELECTOR, ".tile")}
    assert "biden" not in users
    options = [
        o.get_attribute("value")
        for o in labelled(browser, "Person (user_id)").find_elements(By.TAG_NAME, "option")
    ]
    assert "biden" not in options
    status, body = api_get(
        console, f"/v1/{console.project_a[0]}/face-sets/{FACE_SET}/faces?user_id=biden", console.project_a[1]
    )
    assert status == 200 and body["faces"] == [] and body["total"] == 0


def test_jobs_list_and_a_jobs_result(browser: Any, console: Console) -> None:
    go(browser, "jobs")
    wait_heading(browser, "Jobs")
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.jobs tbody tr.succeeded"))
    kinds = [
        row.find_elements(By.TAG_NAME, "td")[1].text
        for row in browser.find_elements(By.CSS_SELECTOR, "table.jobs tbody tr")
    ]
    assert {"enroll_batch", "search", "compare", "delete_person"} <= set(kinds), kinds
    assert "enroll_chunk" not in kinds
    screenshot(browser, console.screenshots, "jobs")
    select_by_value(labelled(browser, "Kind"), "enroll_batch")
    click(browser, "Show")
    wait(browser).until(
        lambda d: (
            {
                r.find_elements(By.TAG_NAME, "td")[1].text
                for r in d.find_elements(By.CSS_SELECTOR, "table.jobs tbody tr")
            }
            == {"enroll_batch"}
        )
    )
    browser.find_element(By.CSS_SELECTOR, "table.jobs tbody tr a").click()
    wait_heading(browser, "Job ")
    result = browser.find_element(By.CSS_SELECTOR, ".result-json").text
    assert '"added": 8' in result


def test_phone_viewport(browser: Any, console: Console) -> None:
    set_viewport(browser, PHONE, mobile=True)
    try:
        go(browser, f"sets/{FACE_SET}")
        wait_heading(browser, f"Faces of {FACE_SET}")
        wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".grid .tile")) == 6)
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= PHONE[0], f"the page scrolls sideways on a phone: {width}px"
        screenshot(browser, console.screenshots, "faces-phone")
    finally:
        set_viewport(browser, DESKTOP)


def test_operator_sees_the_fleet(browser: Any, console: Console) -> None:
    open_page(browser, console.url, "signin")
    browser.execute_script("sessionStorage.clear()")
    open_page(browser, console.url, "signin")
    labelled(browser, "Admin token").send_keys(OPERATOR_TOKEN)
    click(browser, "Sign in as operator")
    wait(browser).until(lambda d: "operator" in d.find_element(By.ID, "who").text)
    wait_heading(browser, "Projects")
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "main table tbody tr"))
    names = {
        row.find_element(By.TAG_NAME, "td").text
        for row in browser.find_elements(By.CSS_SELECTOR, "main table tbody tr")
    }
    assert {"console-a", "console-b"} <= names
    screenshot(browser, console.screenshots, "projects")
    go(browser, "fleet")
    wait_heading(browser, "Fleet")
    workers = browser.find_element(
        By.XPATH, "//div[@class='stat'][span[@class='label']='Workers online']/span[@class='value']"
    )
    assert workers.text == "1"  # the stack's one worker ran this journey's jobs
    queues = browser.find_elements(By.CSS_SELECTOR, "table.queues tbody tr")
    assert {"facefleet.interactive", "facefleet.batch"} <= {
        row.find_element(By.TAG_NAME, "td").text for row in queues
    }
    chart = browser.find_element(By.CSS_SELECTOR, "svg.chart")
    assert "samples" in chart.get_attribute("aria-label")
    screenshot(browser, console.screenshots, "fleet")
    # From the project list, a project opens with its own key only.
    project_id, api_key = console.project_a
    go(browser, "projects")
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "main table tbody tr"))
    key = labelled(browser, f"API key of {project_id}")
    key.send_keys(console.project_b[1], Keys.ENTER)
    assert "Not found" in message(browser)
    key.clear()
    key.send_keys(api_key, Keys.ENTER)
    wait_heading(browser, "Face sets")
    wait(browser).until(lambda d: d.find_elements(By.LINK_TEXT, FACE_SET))
    assert "operator" in browser.find_element(By.ID, "who").text


def test_project_b_sees_nothing_of_project_a(browser: Any, console: Console) -> None:
    project_a, key_a = console.project_a
    _, key_b = console.project_b
    status, body = api_get(console, f"/v1/{project_a}/face-sets/{FACE_SET}/faces?limit=1", key_a)
    face_id = body["faces"][0]["face_id"]
    status, jobs = api_get(console, f"/v1/{project_a}/jobs?limit=1", key_a)
    job_id = jobs["jobs"][0]["job_id"]
    paths = [
        "/face-sets",
        f"/face-sets/{FACE_SET}",
        f"/face-sets/{FACE_SET}/faces",
        f"/face-sets/{FACE_SET}/faces?user_id=obama",
        f"/face-sets/{FACE_SET}/faces?face_id={face_id}",
        f"/face-sets/{FACE_SET}/faces/{face_id}/image?variant=crop",
        f"/face-sets/{FACE_SET}/faces/{face_id}/image?variant=source",
        f"/face-sets/{FACE_SET}/persons",
        "/jobs",
        f"/jobs/{job_id}",
    ]
    for path in paths:
        owner_status, _ = api_get(console, f"/v1/{project_a}{path}", key_a)
        assert owner_status == 200, path
        status, body = api_get(console, f"/v1/{project_a}{path}", key_b)
        assert status == 404, (path, status, body)
    # And through the console: B signed in, A's page data answers only "not found".
    sign_in(browser, console.url, *console.project_b)
    wait_heading(browser, "Face sets")
    browser.execute_script(
        "const s = JSON.parse(sessionStorage.getItem('facefleet.console.session')); s.project_id = arguments[0];"
        "sessionStorage.setItem('facefleet.console.session', JSON.stringify(s))",
        project_a,
    )
    go(browser, f"sets/{FACE_SET}")
    assert "Not found" in message(browser)
    assert not browser.find_elements(By.CSS_SELECTOR, ".grid .tile")
    # Nothing the console loaded came from anywhere but the service itself.
    origins = browser.execute_script(
        "return [...new Set(performance.getEntriesByType('resource').map((e) => new URL(e.name).origin))]"
    )
    assert set(origins) <= {console.url, "null"}, origins


def test_a_zip_with_duplicates_rejected_and_its_csv_report(
    browser: Any, console: Console, tmp_path: Path
) -> None:
    archive = tmp_path / "newcomers.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(
            FACES_DIR / "face_recognition-paul_allen" / "paul_allen.jpg", "paul_allen/paul_allen.jpg"
        )
        zipped.write(console.photos / "obama" / "obama.jpg", "obama/obama.jpg")  # enrolled already
    sign_in(browser, console.url, *console.project_a)
    wait_heading(browser, "Face sets")
    go(browser, "enroll")
    wait_heading(browser, "Bulk enroll")
    select_by_value(labelled(browser, "Face set"), FACE_SET)
    labelled(browser, "…or a zip").send_keys(str(archive))
    select_by_value(labelled(browser, "Duplicates"), "reject")
    click(browser, "Enroll")
    wait(browser, TIMEOUT).until(lambda d: "(100%)" in d.find_element(By.CSS_SELECTOR, ".progress-text").text)
    assert "1 added · 0 duplicates · 1 rejected" in browser.find_element(By.CSS_SELECTOR, ".counts").text
    click(browser, "Download the report (CSV)")
    report = browser.downloads / "enroll-report.csv"
    wait(browser).until(lambda _: report.exists() and report.read_text().count("\n") == 3)
    rows = sorted(csv.DictReader(report.read_text().splitlines()), key=lambda row: row["source"])
    assert [(r["source"], r["status"], r["user_id"]) for r in rows] == [
        ("obama/obama.jpg", "rejected", ""),
        ("paul_allen/paul_allen.jpg", "added", "paul_allen"),
    ]
    assert rows[0]["reason"] == "duplicate_face"
