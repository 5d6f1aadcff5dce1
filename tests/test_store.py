"""What a browser keeps for its visitor comes back checked: a correction of any class, or of none of them."""

from __future__ import annotations

import numpy as np

from digitlab.training.finetune import NOT_ONE
from digitlab.ui.store import correction_of, png_of

NAMES = [str(d) for d in range(10)]


def stored(label, answer) -> dict:
    return {"view": png_of(np.full((1, 28, 28), 9, np.uint8)), "label": label, "answer": answer, "model": "shipped",
            "names": NAMES}


def test_a_correction_of_a_class_or_of_none_of_them_comes_back_and_other_labels_do_not():
    assert correction_of(stored(4, 9)).label == 4
    back = correction_of(stored(NOT_ONE, 4))
    assert back.label == NOT_ONE and back.answer == 4 and back.view.shape == (1, 28, 28)
    for label, answer in ((10, 4), (-2, 4), (4, NOT_ONE), (True, 4), ("4", 4), (4.0, 4), (None, 4)):
        assert correction_of(stored(label, answer)) is None, (label, answer)
