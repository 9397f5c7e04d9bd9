"""The v1 reads the console uses: a face's image, persons, faces by person or filter, the
jobs list, and the fleet's sampled history."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.api.conftest import ApiStack, error_of, unique
from tests.api.photos import GUIDO, KIT, OBAMA, WOZNIAK
from tests.support.client import ProjectClient

pytestmark = [pytest.mark.integration, pytest.mark.model]


def _enrolled(client: ProjectClient, name: str) -> dict[str, str]:
    """face_id by user_id of three faces: two persons, one with a field."""
    client.create_face_set(name, external_fields={"team": {"type": "string"}})
    faces = {}
    for user_id, photo, team in (
        ("guido", GUIDO, "python"),
        ("kit", KIT, "north"),
        ("woz", WOZNIAK, "apple"),
    ):
        body = client.add_face(name, photo, user_id=user_id, external_fields={"team": team}).get_json()
        faces[user_id] = body["faces"][0]["face_id"]
    return faces


def test_a_faces_crop_and_source_photo(api: ApiStack, client: ProjectClient) -> None:
    name = unique("images")
    faces = _enrolled(client, name)
    crop = client.call("GET", f"/face-sets/{name}/faces/{faces['guido']}/image")
    assert crop.status_code == 200 and crop.mimetype == "image/jpeg"
    assert crop.headers["Cache-Control"].startswith("private")
    assert crop.data.startswith(b"\xff\xd8") and len(crop.data) < len(GUIDO.read_bytes())
    source = client.call(
        "GET", f"/face-sets/{name}/faces/{faces['guido']}/image", query_string={"variant": "source"}
    )
    assert source.status_code == 200 and source.data == GUIDO.read_bytes()
    assert source.headers["Cache-Control"].startswith("private")
    error_of(
        client.call("GET", f"/face-sets/{name}/faces/{faces['guido']}/image?variant=thumbnail"),
        400,
        "FRS.0100",
    )
    error_of(client.call("GET", f"/face-sets/{name}/faces/nosuchface/image"), 404, "FRS.0211")
    error_of(
        client.call("GET", f"/face-sets/{unique('absent')}/faces/{faces['guido']}/image"), 404, "FRS.0210"
    )
    other = api.other
    stolen = other.http.get(
        f"/v1/{client.project_id}/face-sets/{name}/faces/{faces['guido']}/image",
        headers={"X-Auth-Token": other.api_key},
    )
    error_of(stolen, 404, "FRS.0200")
    # Under its own project the face is just as absent.
    error_of(other.call("GET", f"/face-sets/{name}/faces/{faces['guido']}/image"), 404, "FRS.0210")


def test_faces_by_field_filter_alone_or_of_one_person(client: ProjectClient) -> None:
    name = unique("filtered")
    faces = _enrolled(client, name)
    client.add_face(name, OBAMA, user_id="guido", external_fields={"team": "north"})
    by_field = client.ok("GET", f"/face-sets/{name}/faces", query_string={"filter": "team:north", "limit": 1})
    assert by_field["total"] == 2 and len(by_field["faces"]) == 1
    second = client.ok("GET", f"/face-sets/{name}/faces", query_string={"filter": "team:north", "offset": 1})
    assert {by_field["faces"][0]["face_id"], second["faces"][0]["face_id"]} - {faces["kit"]} != set()
    assert faces["kit"] in {by_field["faces"][0]["face_id"], second["faces"][0]["face_id"]}
    both = client.ok(
        "GET", f"/face-sets/{name}/faces", query_string={"filter": "team:north", "user_id": "guido"}
    )
    assert both["total"] == 1 and both["faces"][0]["user_id"] == "guido"
    assert both["faces"][0]["face_id"] not in faces.values()
    none = client.ok(
        "GET", f"/face-sets/{name}/faces", query_string={"filter": "team:apple", "user_id": "kit"}
    )
    assert none["total"] == 0 and none["faces"] == []
    error_of(
        client.call("GET", f"/face-sets/{name}/faces", query_string={"filter": "nosuchfield:1"}),
        400,
        "FRS.0120",
    )


def test_the_jobs_list_pages_newest_first_and_filters(api: ApiStack) -> None:
    client = api.new_client(api.app)
    name = unique("jobs")
    client.create_face_set(name)
    batch = client.enroll_batch(name, [GUIDO, KIT, WOZNIAK, OBAMA])
    client.wait_job(batch["job_id"])
    for _ in range(3):
        client.search(name, GUIDO)
    everything = client.ok("GET", "/jobs", query_string={"limit": 200})["jobs"]
    kinds = [job["kind"] for job in everything]
    assert kinds == ["search", "search", "search", "enroll_batch"]  # its chunk jobs are not listed
    assert all(job["status"] == "succeeded" and job["duration_seconds"] >= 0 for job in everything)
    assert "result" not in everything[0]

    first = client.ok("GET", "/jobs", query_string={"limit": 2})
    second = client.ok("GET", "/jobs", query_string={"limit": 2, "cursor": first["next_cursor"]})
    assert [job["job_id"] for job in first["jobs"] + second["jobs"]] == [job["job_id"] for job in everything]
    assert "next_cursor" not in second

    batches = client.ok("GET", "/jobs", query_string={"kind": "enroll_batch"})["jobs"]
    assert [job["job_id"] for job in batches] == [batch["job_id"]]
    assert client.ok("GET", "/jobs", query_string={"status": "failed"})["jobs"] == []
    error_of(client.call("GET", "/jobs", query_string={"kind": "nonsense"}), 400, "FRS.0100")
    error_of(client.call("GET", "/jobs", query_string={"cursor": "garbage"}), 400, "FRS.0100")
    assert api.other.ok("GET", "/jobs")["jobs"] == [] or all(
        job["job_id"] not in {j["job_id"] for j in everything} for job in api.other.ok("GET", "/jobs")["jobs"]
    )


def test_fleet_history_is_sampled_once_a_minute(api: ApiStack) -> None:
    from api.fleet_history import FleetSampler, take_sample
    from api.routes.fleet import MONITOR_KEY
    from infra.db.console_reads import ConsoleReads

    ctx = api.app.extensions["facefleet"]
    reads = ConsoleReads(ctx.database)
    earlier = take_sample(ctx, api.app.extensions[MONITOR_KEY], datetime.now(UTC) - timedelta(minutes=3))
    assert reads.record_sample(earlier) is True
    assert reads.record_sample(earlier) is False  # another API process wrote this minute already
    FleetSampler(ctx, api.app.extensions[MONITOR_KEY]).sample_now()
    response = api.client.http.get("/v1/admin/queues/history", headers={"X-Auth-Token": api.client.api_key})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    minutes = [sample["minute"] for sample in body["samples"]]
    assert earlier.minute.strftime("%Y-%m-%dT%H:%M:%SZ") in minutes and minutes == sorted(minutes)
    latest = body["samples"][-1]
    assert {"facefleet.interactive", "facefleet.batch"} <= set(latest["queues"])
    assert latest["workers"] >= 0 and latest["jobs_finished"] >= 0
    assert set(body["current"]) == {"workers", "jobs_last_minute"}
    error_of(api.client.http.get("/v1/admin/queues/history"), 401, "FRS.0002")


def test_a_page_of_faces_at_100k_faces_costs_one_bounded_query(api: ApiStack) -> None:
    """The console pages by offset: the last page of a 100,000-face set must answer as
    quickly as the first (an indexed walk, never loading the set)."""
    from sqlalchemy import insert, update

    from infra.db.models import Face, FaceSet, utc_now

    client = api.new_client(api.app)
    name = unique("large")
    face_set_id = client.create_face_set(name, face_set_capacity=100_000)["face_set_info"]["face_set_id"]
    # Rows written straight into SQL: this measures reading a large set, not enrolling one.
    now = utc_now()
    rows = [
        {
            "face_id": f"bulk{n:06d}",
            "project_id": client.project_id,
            "face_set_id": face_set_id,
            "external_image_id": f"img{n:06d}",
            "external_fields": {},
            "user_id": f"p{n % 5000}",
            "box_x": 1,
            "box_y": 2,
            "box_width": 30,
            "box_height": 30,
            "image_key": "images/none",
            "model_id": "dlib-resnet-v1",
            "created_at": now,
        }
        for n in range(100_000)
    ]
    with api.app.extensions["facefleet"].database.session() as session:
        session.execute(insert(Face), rows)
        session.execute(update(FaceSet).where(FaceSet.id == face_set_id).values(face_count=100_000))

    def timed(offset: int, **query: object) -> tuple[float, dict[str, object]]:
        started = time.perf_counter()
        body = client.ok(
            "GET", f"/face-sets/{name}/faces", query_string={"offset": offset, "limit": 48, **query}
        )
        return time.perf_counter() - started, body

    first, body = timed(0)
    assert body["total"] == 100_000 and len(body["faces"]) == 48  # type: ignore[arg-type]
    last, body = timed(99_952)
    assert [face["face_id"] for face in body["faces"]][-1] == "bulk099999"  # type: ignore[index, union-attr]
    person, body = timed(0, user_id="p42")
    assert body["total"] == 20
    assert last < 1.0 and person < 1.0, (first, last, person)
