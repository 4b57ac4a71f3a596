"""The quality gate's rules, and ``stillroom evaluate`` (exit 0 pass, 1 fail, 2 bad input)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from evaluate_helpers import add_teacher_outputs, fake_train_run, fill_records, make_project

from core.cli import main
from core.evaluate.gate import judge, ships
from core.project import QualityFloor

FLOOR = QualityFloor(min_retention=0.95, min_metric=0.7, max_ece=0.1)


def test_gate_passes_when_every_bound_holds():
    verdict = judge("test", FLOOR, retention=0.97, metric=0.8, ece=0.05)
    assert verdict.passed
    assert [c.name for c in verdict.checks] == ["retention", "metric", "ECE"]
    # Plain words, as the evaluate page and the report show them.
    assert [c.describe() for c in verdict.checks] == [
        "retention 0.970 meets the floor 0.95",
        "metric 0.800 meets the floor 0.7",
        "ECE 0.050 is within the ceiling 0.1",
    ]


def test_gate_fails_on_retention():
    verdict = judge("test", FLOOR, retention=0.90, metric=0.8, ece=0.05)
    assert not verdict.passed
    assert [c.name for c in verdict.failures] == ["retention"]
    assert "retention 0.9000 is below the floor 0.95" in verdict.failures[0].describe()


def test_gate_fails_on_ece():
    verdict = judge("test", FLOOR, retention=0.99, metric=0.8, ece=0.2)
    assert [c.name for c in verdict.failures] == ["ECE"]


def test_gate_fails_on_the_absolute_metric():
    verdict = judge("test", FLOOR, retention=0.99, metric=0.6, ece=0.01)
    assert [c.name for c in verdict.failures] == ["metric"]


def test_gate_fails_what_it_cannot_measure():
    verdict = judge(
        "test",
        QualityFloor(0.9),
        retention=None,
        metric=0.8,
        ece=None,
        retention_missing="no teacher answers on this set",
    )
    assert not verdict.passed
    assert "not measurable (no teacher answers on this set)" in verdict.failures[0].describe()


def test_gate_has_no_ece_check_without_a_bound_or_a_value():
    assert len(judge("test", QualityFloor(0.9), retention=1, metric=1, ece=0.9).checks) == 1
    generation = judge("test", FLOOR, retention=1, metric=1, ece=None)
    assert [c.name for c in generation.checks] == ["retention", "metric"]


def test_a_retention_at_the_bound_passes_despite_rounding():
    assert judge("test", QualityFloor(0.95), retention=0.95 - 1e-12, metric=1, ece=None).passed


def test_edge_failure_decides_only_when_strict():
    test = judge("test", FLOOR, retention=0.99, metric=0.8, ece=0.05)
    edge = judge("edge", FLOOR, retention=0.5, metric=0.8, ece=0.05)
    assert ships(test, edge, strict_edge=False)
    assert not ships(test, edge, strict_edge=True)
    assert ships(test, None, strict_edge=True)


@pytest.fixture
def cli_project(tmp_path, trained_student):
    def build(min_retention: float):
        project = make_project(tmp_path, f"p{min_retention}", min_retention=min_retention)
        fill_records(project, 90)
        add_teacher_outputs(project)
        fake_train_run(project, trained_student)
        project.close()
        return str(project.path)

    return build


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_exits_1_when_the_gate_fails_and_0_when_it_passes(capsys, cli_project):
    code, out, _ = cli(
        capsys, "evaluate", cli_project(0.9), "--latency-runs", "2", "--threads", "1", "--no-onnx"
    )
    assert code == 1
    assert "the student FAILS the quality floor" in out
    assert "report: " in out
    code, out, _ = cli(
        capsys,
        "evaluate",
        cli_project(0.3),
        "--no-latency",
        "--json",
        "--threads",
        "1",
        "--no-onnx",
    )
    assert code == 0
    result = json.loads(out)
    assert result["passed"] is True
    assert result["report_html"].endswith("report.html")
    assert {row["model"] for row in result["headline"]} == {"teacher", "student"}


def test_cli_exits_2_with_one_line_before_training(capsys, tmp_path):
    project = make_project(tmp_path)
    fill_records(project, 30)
    project.close()
    code, _, err = cli(capsys, "evaluate", str(project.path))
    assert code == 2
    assert err.count("\n") == 1
    assert "no trained student" in err
    assert "stillroom train" in err


def test_cli_rejects_a_negative_hardware_cost(capsys, tmp_path):
    code, _, err = cli(capsys, "evaluate", str(tmp_path), "--hardware-cost-per-hour", "-1")
    assert code == 2
    assert "cannot be negative" in err


def test_help_imports_no_heavy_module():
    probe = (
        "import sys; from core.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'transformers', 'matplotlib', 'sklearn', 'numpy') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_options_left_out_take_the_configs_defaults():
    from core.cli import build_parser
    from core.commands.config_defaults import given
    from core.evaluate.config import EvaluateConfig

    parser = build_parser()
    args = parser.parse_args(["evaluate", "DIR"])
    assert EvaluateConfig(**given(args, EvaluateConfig)) == EvaluateConfig()
    args = parser.parse_args(
        ["evaluate", "DIR", "--no-latency", "--no-onnx", "--strict-edge", "--latency-runs", "5"]
    )
    assert EvaluateConfig(**given(args, EvaluateConfig)) == EvaluateConfig(
        measure_latency=False, score_shipped=False, strict_edge=True, latency_runs=5
    )
