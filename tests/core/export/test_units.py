"""Small pieces of the export stage: options, the INT8 kernel target, names, zip entries."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from core.configs import from_json, to_json
from core.errors import ExportError
from core.export.config import ExportConfig
from core.export.quantize import detect_isa
from core.export.safezip import unsafe_reason
from core.export.stage import triton_name


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("fpu sse2 avx2 avx512f avx512_vnni", "avx512_vnni"),
        ("fpu sse2 avx2 avx512f avx512bw", "avx512"),
        ("fpu sse2 avx2 fma", "avx2"),
    ],
)
def test_the_int8_target_follows_the_cpu_flags(tmp_path, monkeypatch, flags, expected):
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert detect_isa(cpuinfo) == expected
    assert detect_isa(tmp_path / "missing") == "avx2"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"override_floor": "  "}, "needs a reason"),
        ({"name": "../evil"}, "Triton model name"),
        ({"quantize": "none", "keep_fp32": True}, "needs int8"),
        ({"min_agreement": 1.5}, "between 0 and 1"),
        ({"isa": "sse2"}, "--isa"),
    ],
)
def test_bad_options_are_one_actionable_line(options, message):
    with pytest.raises(ExportError, match=message):
        ExportConfig(out=Path("b"), **options).validate()


def test_the_config_round_trips_through_json():
    config = ExportConfig(out=Path("/x/b.zip"), format="zip", override_floor="why", fp16=True)
    assert from_json(ExportConfig, {**to_json(config), "unknown": 1}) == config


def test_triton_names_are_sanitised():
    assert triton_name("My project (v2)") == "stillroom_My_project_v2"
    assert triton_name("...") == "stillroom_model"


def test_plain_zip_entries_are_safe_and_links_are_not():
    plain = zipfile.ZipInfo("triton/m/1/model.onnx")
    assert unsafe_reason(plain) is None
    link = zipfile.ZipInfo("tokenizer.json")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    assert unsafe_reason(link) == "a symbolic link"
    fifo = zipfile.ZipInfo("pipe")
    fifo.external_attr = (stat.S_IFIFO | 0o600) << 16
    assert "special file" in (unsafe_reason(fifo) or "")
    assert "backslash" in (unsafe_reason(zipfile.ZipInfo("..\\evil")) or "")


def test_options_left_out_take_the_configs_defaults():
    from core.cli import build_parser
    from core.commands.config_defaults import given

    parser = build_parser()
    args = parser.parse_args(["export", "DIR", "--out", "/x/b"])
    assert ExportConfig(**given(args, ExportConfig)) == ExportConfig(out=Path("/x/b"))
    args = parser.parse_args(
        [
            "export",
            "DIR",
            "--out",
            "/x/b",
            "--quantize",
            "none",
            "--force",
            "--min-agreement",
            "0.9",
        ]
    )
    assert ExportConfig(**given(args, ExportConfig)) == ExportConfig(
        out=Path("/x/b"), quantize="none", force=True, min_agreement=0.9
    )
