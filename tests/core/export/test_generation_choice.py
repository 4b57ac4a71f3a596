"""Which decoder file ships: the smallest weight-only file that keeps the student's quality,
by greedy parity or, where greedy runs part from PyTorch's, by its own test score."""

from __future__ import annotations

from pathlib import Path

from core.export.build import Built
from core.export.config import ParityReport, VariantParity
from core.export.generation import METRIC_TOLERANCE, choose_file
from core.export.quantize import Quantized


def _built(tmp_path: Path, parity: dict[str, tuple[float, float]]) -> Built:
    fp32 = tmp_path / "fp32.onnx"
    fp32.write_bytes(b"x" * 400)
    built = Built(source=tmp_path, folder=tmp_path, shipped=fp32, fp32=fp32, exporter="torch",
                  fallback_reason=None, merged_lora=False, labels=[], tokenizer={},
                  max_length=64)  # fmt: skip
    for bits, size in ((4, 100), (8, 200)):
        model = tmp_path / f"int{bits}.onnx"
        model.write_bytes(b"x" * size)
        built.candidates[f"onnx_int{bits}"] = Quantized(
            model, "any", {"variant": f"onnx_int{bits}", "precision": f"int{bits}"}
        )
    variants = tuple(VariantParity(name, agreement, 0.5, greedy, greedy - 1.0)
                     for name, (agreement, greedy) in parity.items())  # fmt: skip
    built.parity = ParityReport(16, "pytorch", "greedy_match_32", 1.0, variants, None)
    return built


def _scores(table: dict[str, float], asked: list[str]):
    def score(model: Path) -> tuple[float, float]:
        asked.append(model.stem)
        return table[model.stem], 0.75

    return score


def test_the_smallest_file_with_full_greedy_parity_ships_unscored(tmp_path):
    built = _built(tmp_path, {"onnx_int4": (1.0, 1.0), "onnx_int8": (1.0, 1.0)})
    asked: list[str] = []
    choose_file(0.99, built, _scores({}, asked))
    assert built.precision == "int4"
    assert asked == []  # matching PyTorch's greedy runs needs no test-set scoring


def test_a_file_whose_greedy_runs_part_ships_when_its_test_score_holds(tmp_path):
    # The issue-17 bench: 4-bit lost 0.15 ROUGE-L, 8-bit 0.008 with 75% greedy match.
    built = _built(tmp_path, {"onnx_int4": (1.0, 0.06), "onnx_int8": (1.0, 0.75)})
    asked: list[str] = []
    choose_file(0.99, built, _scores({"int4": 0.60, "int8": 0.745}, asked))
    assert asked == ["int4", "int8"]  # smallest first
    assert built.shipped == tmp_path / "int8.onnx"
    assert built.precision == "int8"
    assert any("onnx_int4 was not shipped" in n and "0.600" in n for n in built.notes)
    assert any("onnx_int8 ships" in n and "75%" in n for n in built.notes)


def test_no_file_within_the_tolerance_leaves_fp32(tmp_path):
    built = _built(tmp_path, {"onnx_int4": (1.0, 0.0), "onnx_int8": (1.0, 0.5)})
    below = 0.75 - METRIC_TOLERANCE - 0.001
    choose_file(0.99, built, _scores({"int4": below, "int8": below}, []))
    assert built.shipped == tmp_path / "fp32.onnx"
    assert built.quantization is None
    assert any("the fp32 file ships" in n for n in built.notes)


def test_next_token_disagreement_rules_a_file_out_before_any_scoring(tmp_path):
    built = _built(tmp_path, {"onnx_int4": (0.9, 0.0), "onnx_int8": (0.98, 0.9)})
    asked: list[str] = []
    choose_file(0.99, built, _scores({"int4": 0.75, "int8": 0.75}, asked))
    assert asked == []
    assert built.quantization is None


def test_without_an_evaluation_only_greedy_parity_can_ship_a_quantized_file(tmp_path):
    built = _built(tmp_path, {"onnx_int4": (1.0, 0.5), "onnx_int8": (1.0, 0.995)})
    choose_file(0.99, built, lambda model: None)
    assert built.precision == "int8"
