"""/v1/admin/* (fleet-wide queue signals): with an operator token configured, only that
token reads them, never a project's key; without one (the embedded default), any valid key."""

from __future__ import annotations

from pydantic import SecretStr

from tests.api.conftest import ApiStack

QUEUES = "/v1/admin/queues"
OPERATOR_TOKEN = "operator-0123456789abcdef0123456789abcdef"


def test_with_an_operator_token_project_keys_are_refused_and_the_token_reads_the_queues(api: ApiStack) -> None:
    from api.app import create_app

    settings = api.settings.model_copy(
        update={"api": api.settings.api.model_copy(update={"admin_token": SecretStr(OPERATOR_TOKEN)})}
    )
    http = create_app(settings).test_client()

    by_project_key = http.get(QUEUES, headers={"X-Auth-Token": api.client.api_key})
    assert by_project_key.status_code == 403, by_project_key.get_json()
    assert by_project_key.get_json()["error_code"] == "FRS.0003"
    assert OPERATOR_TOKEN not in by_project_key.get_data(as_text=True)

    missing = http.get(QUEUES)
    assert missing.status_code == 401 and missing.get_json()["error_code"] == "FRS.0002"
    wrong = http.get(QUEUES, headers={"Authorization": f"Bearer {OPERATOR_TOKEN[:-1]}x"})
    assert wrong.status_code == 403

    for headers in ({"X-Auth-Token": OPERATOR_TOKEN}, {"Authorization": f"Bearer {OPERATOR_TOKEN}"}):
        answered = http.get(QUEUES, headers=headers)
        assert answered.status_code == 200, answered.get_json()
        assert {queue["queue"] for queue in answered.get_json()["queues"]} >= {"facefleet.interactive"}


def test_without_an_operator_token_any_valid_key_reads_the_queues_and_no_key_does_not(api: ApiStack) -> None:
    http = api.app.test_client()
    assert http.get(QUEUES, headers={"X-Auth-Token": api.client.api_key}).status_code == 200
    assert http.get(QUEUES, headers={"X-Auth-Token": "ffk_not.a-key"}).status_code == 401
    assert http.get(QUEUES).status_code == 401
