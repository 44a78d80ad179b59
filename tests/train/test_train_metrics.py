"""rtecho.train.metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.train.metrics import classification_report, cohen_kappa, confusion_matrix, save_confusion_png

LABELS = ["A2C", "A4C", "PLAX"]


def test_confusion_matrix_rows_are_truth():
    cm = confusion_matrix([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], 3)
    assert cm.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert cm.dtype == np.int64


def test_report_matches_hand_computation():
    r = classification_report([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], LABELS)
    assert r["n"] == 6
    assert r["accuracy"] == pytest.approx(4 / 6)
    # p_o = 2/3, p_e = (3*2 + 2*2 + 1*2) / 36 = 1/3 -> kappa = (2/3 - 1/3) / (2/3) = 0.5
    assert r["kappa"] == pytest.approx(0.5)
    assert r["per_class_accuracy"] == pytest.approx({"A2C": 2 / 3, "A4C": 0.5, "PLAX": 1.0})
    assert r["macro_precision"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert r["macro_recall"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    # F1 per class: 0.8, 0.5, 2/3; weighted by support 3, 2, 1
    assert r["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 1 * (2 / 3)) / 6)
    assert r["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert r["labels"] == LABELS


def test_degenerate_single_class_perfect_agreement():
    r = classification_report([1, 1, 1], [1, 1, 1], LABELS)
    assert r["accuracy"] == 1.0
    assert r["kappa"] == 1.0  # p_e = 1: defined as perfect agreement, not NaN
    assert r["per_class_accuracy"] == {"A4C": 1.0}
    assert r["macro_precision"] == 1.0  # averaged over classes that occur only


def test_degenerate_constant_prediction():
    r = classification_report([0, 1, 0, 1], [1, 1, 1, 1], LABELS)
    assert r["accuracy"] == 0.5
    assert r["kappa"] == pytest.approx(0.0)
    assert r["macro_precision"] == pytest.approx((0.0 + 0.5) / 2)  # class never predicted: precision 0
    assert r["macro_recall"] == pytest.approx((0.0 + 1.0) / 2)


def test_kappa_worse_than_chance_is_negative_and_empty_is_zero():
    assert cohen_kappa(np.array([[0, 2], [2, 0]])) == pytest.approx(-1.0)
    assert cohen_kappa(np.zeros((2, 2))) == 0.0
    assert classification_report([], [], LABELS)["accuracy"] == 0.0


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="lie in"):
        confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="items"):
        confusion_matrix([0, 1], [0], 3)


def test_confusion_png(tmp_path):
    out = save_confusion_png(np.array([[3, 1], [0, 4]]), ["A4C", "PLAX"], tmp_path / "cm.png", title="t")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
