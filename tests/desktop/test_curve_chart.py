"""Readable training curves (issue 20): smoothed loss with the raw values kept, round ticks
that differ, the best checkpoint marked, an epoch axis."""

from __future__ import annotations

from desktop.widgets.curve_chart import SMOOTHED, CurveChart


def test_loss_is_smoothed_with_the_raw_values_kept(qtbot):
    chart = CurveChart()
    qtbot.addWidget(chart)
    for step, loss in enumerate([1.0, 0.2, 1.0, 0.2], start=1):
        chart.add_point("loss", step, loss)
    assert chart.point_count("loss") == chart.point_count(SMOOTHED) == 4
    smoothed = [p.y() for p in chart._smoothed.points()]
    assert max(smoothed) - min(smoothed) < 0.8  # the zig-zag is damped
    assert chart.raw_loss(2) == 0.2  # hovering shows the raw value


def test_a_narrow_loss_range_gets_ticks_that_differ(qtbot):
    chart = CurveChart()
    qtbot.addWidget(chart)
    for step, loss in enumerate([1.081, 1.078, 1.072, 1.069, 1.064], start=1):
        chart.add_point("loss", step, loss)
    axis = chart._loss_axis
    ticks = [axis.min() + i * (axis.max() - axis.min()) / (axis.tickCount() - 1)
             for i in range(axis.tickCount())]  # fmt: skip
    labels = [axis.labelFormat() % tick for tick in ticks]
    assert len(set(labels)) == len(labels)


def test_the_best_checkpoint_is_marked_and_epochs_shown(qtbot):
    chart = CurveChart()
    qtbot.addWidget(chart)
    chart.add_point("eval_accuracy", 30, 0.70)
    chart.add_point("eval_accuracy", 60, 0.81)
    chart.add_point("eval_accuracy", 90, 0.78)
    assert chart.best_checkpoint() == (60, 0.81)
    chart.add_point("eval_macro_f1", 30, 0.66)  # the run keeps the best macro-F1 once logged
    chart.add_point("eval_macro_f1", 90, 0.74)
    assert chart.best_checkpoint() == (90, 0.74)
    chart.add_point("epoch", 30, 0.5)  # 60 steps an epoch; the step axis ends at 100
    assert chart.epoch_labels() == [("1", 60.0)]


def test_a_run_that_keeps_its_final_weights_marks_the_last_validation(qtbot):
    chart = CurveChart()
    qtbot.addWidget(chart)
    chart.keeps_last = True
    chart.set_points([("eval_macro_f1", 120, 0.867), ("eval_macro_f1", 225, 0.846)])
    assert chart.best_checkpoint() == (225, 0.846)
    assert chart._best.name() == "Kept weights (the final ones)"
    chart.keeps_last = False
    chart.set_points([("eval_macro_f1", 120, 0.867), ("eval_macro_f1", 225, 0.846)])
    assert chart.best_checkpoint() == (120, 0.867)
    assert chart._best.name() == "Best checkpoint"
