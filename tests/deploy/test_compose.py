"""docker-compose.yml: valid for compose v1 and v2, ordered by health, configured only
through variables that Settings reads, with no credential in the file."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from core.queues import QueueName
from infra.settings import Settings
from tests.deploy.conftest import COMPOSE_FILE, ENV_EXAMPLE, generate_env, run_compose
from tests.deploy.support import DEPLOY_DIR, parse_dockerfile, points_at_this_machine, settings_leaves

HEALTH_CONDITIONS = {"service_healthy", "service_completed_successfully"}
# Defaults that point at this machine but need no value in the compose deployment.
NOT_NEEDED_IN_CONTAINERS = {
    "FACEFLEET_OBJECT_STORE__LOCAL_ROOT": "unused once OBJECT_STORE__KIND=s3",
    "FACEFLEET_VECTOR_STORE__TOKEN": "Milvus runs without auth on the private compose network",
}


def _example_secrets() -> list[str]:
    return [
        line.rstrip("=")
        for line in (line.strip() for line in ENV_EXAMPLE.read_text().splitlines())
        if line and not line.startswith("#") and line.endswith("=")
    ]


def _facefleet_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services that run FaceFleet's own images (built from infra/deploy)."""
    return {
        name: service
        for name, service in services.items()
        if "infra/deploy/Dockerfile" in service.get("build", {}).get("dockerfile", "")
    }


def _image_env(service: dict[str, Any]) -> dict[str, str]:
    final_stage = parse_dockerfile(DEPLOY_DIR.parent.parent / service["build"]["dockerfile"])[-1]
    return final_stage.env()


def _is_one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


# --- validation -------------------------------------------------------------------------


def test_debian_docker_compose_v1_validates_the_file(compose_v1: Path, env_file: Path) -> None:
    result = run_compose(compose_v1, env_file, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_v2_validates_the_file_against_the_compose_spec(compose_v2: Path, env_file: Path) -> None:
    result = run_compose(compose_v2, env_file, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_v2_rejects_a_key_outside_the_compose_spec(
    compose_v2: Path, env_file: Path, tmp_path: Path
) -> None:
    # Guards the guard: proves the validator above really checks the schema.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    hostname: rabbitmq\n", "    hostnme: rabbitmq\n"))
    result = run_compose(compose_v2, env_file, "config", "-q", compose_file=broken)
    assert result.returncode != 0
    assert "hostnme" in result.stderr


@pytest.mark.parametrize("secret", _example_secrets())
def test_compose_refuses_to_start_while_a_secret_is_empty(
    secret: str, compose_v2: Path, env_values: dict[str, str], tmp_path: Path
) -> None:
    partial = tmp_path / ".env"
    partial.write_text("".join(f"{k}={'' if k == secret else v}\n" for k, v in env_values.items()))
    result = run_compose(compose_v2, partial, "config", "-q")
    assert result.returncode != 0
    assert f"required variable {secret} is missing a value" in result.stderr


def test_the_example_env_file_itself_cannot_start_the_stack(compose_v1: Path, compose_v2: Path) -> None:
    for binary in (compose_v1, compose_v2):
        result = run_compose(binary, ENV_EXAMPLE, "config", "-q")
        assert result.returncode != 0, binary
        assert "in .env" in result.stderr


def test_every_variable_compose_interpolates_is_documented_in_env_example() -> None:
    used = set(re.findall(r"(?<!\$)\$\{(\w+)", COMPOSE_FILE.read_text()))
    documented = {
        line.split("=", 1)[0].strip()
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    assert used - documented == set()
    # Settings also reads a .env in the working directory: compose-level names must not
    # be mistaken for FaceFleet settings there.
    assert {name for name in documented if name.startswith("FACEFLEET_")} == set()


def test_generated_env_fills_every_secret_with_a_distinct_flag_safe_value(env_values: dict[str, str]) -> None:
    secrets = [env_values[name] for name in _example_secrets()]
    assert len(set(secrets)) == len(secrets)
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in secrets)
    assert env_values["POSTGRES_USER"] == "facefleet"  # non-secret values kept as written


def test_generate_env_refuses_to_overwrite_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    target.write_text("POSTGRES_PASSWORD=keep-me\n")
    assert generate_env.main(["--output", str(target)]) == 1
    assert target.read_text() == "POSTGRES_PASSWORD=keep-me\n"
    assert generate_env.main(["--output", str(target), "--force"]) == 0
    assert target.stat().st_mode & 0o077 == 0


def test_no_credential_is_written_into_the_compose_file() -> None:
    credential_key = re.compile(r"^\s*([A-Z_]*(PASS|PASSWORD|SECRET|ACCESS_KEY|USER|AUTH)[A-Z_]*):\s*(.+)$")
    for line in COMPOSE_FILE.read_text().splitlines():
        match = credential_key.match(line)
        if match:
            assert "${" in match.group(3), line


# --- health and start-up order ----------------------------------------------------------


def test_every_service_declares_a_health_check(services: dict[str, dict[str, Any]]) -> None:
    dependants = {
        target: condition["condition"]
        for service in services.values()
        for target, condition in service.get("depends_on", {}).items()
    }
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        if check.get("disable"):
            # Only a one-shot job may go without a probe: its exit status is its health.
            assert _is_one_shot(service), name
            assert dependants.get(name) == "service_completed_successfully", name
        else:
            assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
            assert check.get("interval") and check.get("retries"), name


def test_depends_on_waits_for_health_or_successful_completion(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for target, spec in service.get("depends_on", {}).items():
            assert spec["condition"] in HEALTH_CONDITIONS, (name, target)
            target_service = services[target]
            if spec["condition"] == "service_healthy":
                assert not target_service["healthcheck"].get("disable"), (name, target)
            else:
                assert _is_one_shot(target_service), (name, target)


def test_no_service_sleeps_its_way_into_order() -> None:
    assert not re.search(r"\bsleep\b|\bwait-for|\bwaitforit", COMPOSE_FILE.read_text())


def _transitive_dependencies(services: dict[str, dict[str, Any]], name: str) -> set[str]:
    seen: set[str] = set()
    stack = list(services[name].get("depends_on", {}))
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(services[current].get("depends_on", {}))
    return seen


def test_api_and_workers_start_only_after_every_store_is_ready(services: dict[str, dict[str, Any]]) -> None:
    stores = {"postgres", "migrate", "rabbitmq", "minio", "minio-init", "milvus", "etcd", "milvus-minio"}
    for name in ("api", "worker-interactive", "worker-cpu", "worker-gpu"):
        assert stores <= _transitive_dependencies(services, name), name
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


# --- configuration against Settings -----------------------------------------------------


def test_facefleet_variables_are_exactly_settings_fields(services: dict[str, dict[str, Any]]) -> None:
    known = settings_leaves(Settings)
    facefleet = _facefleet_services(services)
    assert set(facefleet) == {"migrate", "api", "worker-interactive", "worker-cpu", "worker-gpu"}
    for name, service in facefleet.items():
        for source, env in (("compose", service["environment"]), ("image", _image_env(service))):
            unknown = {var for var in env if var.startswith("FACEFLEET_")} - set(known)
            assert unknown == set(), f"{name} ({source}) sets variables Settings does not read"
    for flagged in NOT_NEEDED_IN_CONTAINERS:
        assert flagged in known, f"stale exemption {flagged}"


def test_every_setting_that_defaults_to_this_machine_is_set_in_containers(
    services: dict[str, dict[str, Any]],
) -> None:
    local_defaults = {
        env_name
        for env_name, leaf in settings_leaves(Settings).items()
        if points_at_this_machine(leaf.default)
    }
    # The walk must see the obvious ones, or the rule below proves nothing.
    assert {"FACEFLEET_DATABASE__URL", "FACEFLEET_BROKER__URL", "FACEFLEET_MODE"} <= local_defaults
    for name, service in _facefleet_services(services).items():
        effective = {**_image_env(service), **service["environment"]}
        required = local_defaults - set(NOT_NEEDED_IN_CONTAINERS)
        if "Dockerfile.api" in service["build"]["dockerfile"]:
            required -= {"FACEFLEET_MODELS__HOME"}  # the API image loads no model
        if name != "api":
            required -= {"FACEFLEET_API__ADMIN_TOKEN"}  # only the API answers /v1/admin
        assert required - set(effective) == set(), name


def test_container_environment_builds_distributed_settings(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, service in _facefleet_services(services).items():
        with monkeypatch.context() as patch:
            for var in list(os.environ):
                if var.startswith("FACEFLEET_"):
                    patch.delenv(var)
            for var, value in {**_image_env(service), **service["environment"]}.items():
                patch.setenv(var, value)
            settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assert settings.mode == "distributed", name
        assert settings.object_store.kind == "s3", name
        assert settings.database.url.startswith("postgresql+psycopg://"), name
        assert settings.broker.url.startswith("amqp://"), name
        assert settings.vector_store.uri == "http://milvus:19530", name
        assert settings.object_store.secret_key.get_secret_value(), name
        assert settings.pipeline.gpu_pool is False, name
    assert services["api"]["environment"]["FACEFLEET_API__GUNICORN_WORKERS"].isdigit()


# --- worker pools -----------------------------------------------------------------------


def _consumed_queues(service: dict[str, Any]) -> set[str]:
    command: list[str] = service["command"]
    assert command[:2] == ["facefleet", "worker"]
    return set(command[command.index("--queues") + 1].split(","))


def test_cpu_and_gpu_pools_consume_every_queue_of_the_contract(services: dict[str, dict[str, Any]]) -> None:
    every_queue = {queue.value for queue in QueueName}
    assert _consumed_queues(services["worker-gpu"]) == {QueueName.GPU.value}
    # Interactive work has a pool of its own; the bulk pool yields the CPU to it.
    assert _consumed_queues(services["worker-interactive"]) == {QueueName.INTERACTIVE.value}
    bulk = every_queue - {QueueName.GPU.value, QueueName.INTERACTIVE.value}
    assert _consumed_queues(services["worker-cpu"]) == bulk
    command = services["worker-cpu"]["command"]
    assert command[command.index("--nice") + 1] == "10"


def test_worker_cpu_can_be_scaled(services: dict[str, dict[str, Any]]) -> None:
    for name in ("worker-interactive", "worker-cpu", "worker-gpu"):
        assert "container_name" not in services[name], name
        assert "ports" not in services[name], name
        assert "hostname" not in services[name], name  # `%h` must differ per replica


def test_every_worker_serves_its_metrics_on_the_compose_network_only(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("worker-interactive", "worker-cpu", "worker-gpu"):
        port = services[name]["environment"]["FACEFLEET_METRICS__WORKER_PORT"]
        assert Settings(metrics={"worker_port": port}).metrics.worker_port == 9464, name
        assert [str(exposed) for exposed in services[name]["expose"]] == [port], name


def test_gpu_worker_runs_only_under_its_profile_with_an_nvidia_reservation(
    services: dict[str, dict[str, Any]], compose_v2: Path, env_file: Path
) -> None:
    gpu = services["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert gpu["build"]["args"]["ACCELERATOR"] == "gpu"
    default_services = run_compose(compose_v2, env_file, "config", "--services", profiles=()).stdout.split()
    assert "worker-gpu" not in default_services and "worker-cpu" in default_services


def test_third_party_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image: str = service["image"]
        if "build" in service:
            assert image.startswith("facefleet-"), name
            continue
        repository, _, tag = image.partition("@")[0].rpartition(":")
        assert "@sha256:" in image or (repository and re.search(r"\d", tag)), f"{name}: {image} is not pinned"
        assert tag != "latest", name


def test_admin_interfaces_listen_on_loopback_by_default(services: dict[str, dict[str, Any]]) -> None:
    for name in ("rabbitmq", "flower"):
        assert {port["host_ip"] for port in services[name]["ports"]} == {"127.0.0.1"}, name
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"api", "rabbitmq", "flower"}
