"""`facefleet models add/list`: a bring-your-own model file goes into the configured object
store under its checksum; a wrong checksum or a taken name is refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner

from facefleet.cli import main
from infra.model_registry import lookup
from infra.object_store import object_store_from_settings
from infra.settings import ObjectStoreSettings
from tests.pipelines.test_arcface import tiny_arcface_onnx


def test_models_add_stores_the_file_and_refuses_a_wrong_checksum(tmp_path: Path) -> None:
    model = tmp_path / "tiny.onnx"
    checksum = tiny_arcface_onnx(model)
    env = {"FACEFLEET_OBJECT_STORE__KIND": "local", "FACEFLEET_OBJECT_STORE__LOCAL_ROOT": str(tmp_path / "objects")}
    runner = CliRunner()

    refused = runner.invoke(main, ["models", "add", "tiny", "--file", str(model), "--sha256", "1" * 64], env=env)
    assert refused.exit_code != 0 and "sha256" in refused.output

    added = runner.invoke(main, ["models", "add", "tiny", "--file", str(model), "--sha256", checksum], env=env)
    assert added.exit_code == 0, added.output
    assert f"registered arcface-tiny (sha256 {checksum})" in added.output
    listed = runner.invoke(main, ["models", "list"], env=env)
    assert f"arcface-tiny\t{checksum}" in listed.output

    store = object_store_from_settings(ObjectStoreSettings(local_root=tmp_path / "objects"))
    record = lookup(store, "tiny")
    assert record is not None and store.get(record.file_key) == model.read_bytes()

    other = tmp_path / "other.onnx"
    other.write_bytes(model.read_bytes() + b"\0")

    taken = runner.invoke(main, ["models", "add", "tiny", "--file", str(other), "--sha256",
                                 hashlib.sha256(other.read_bytes()).hexdigest()], env=env)
    assert taken.exit_code != 0 and "already registered" in taken.output
