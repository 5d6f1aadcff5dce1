"""A row reader: a row of handwriting in, the classes written along it out (a CNN and a GRU with a CTC head).

The cut-and-read path (digitlab.vision.numbers) reads each digit alone, so it cannot see that a blob is two
digits that touch, or that a stroke is a neighbour's. A row reader sees the whole row: its CNN turns the row
view (digitlab.vision.numbers.row_view: 32 px tall, digits 20 px) into one column of features per 4 px, its GRU
reads them both ways, and each column says which class it shows or "none" (the CTC blank, class 0), as in
scene-text and street-number readers (Shi et al. 2015, CRNN). It travels with its model (Classifier.rows).
"""

from __future__ import annotations

import torch
from torch import nn

ROW_ARCH = "rownet"  # what config.json calls it


def conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class RowNet(nn.Module):
    """(B, 1, 32, W) ink in [0, 1] -> (B, W / 4, num_classes + 2) log-probabilities: class 0 the CTC blank, then
    the model's classes, then "none of them" (a letter or a doodle in the row). Two 2x2 poolings make a column
    of 4 px (numbers.ROW_STEP), two more in height leave 2 rows of features."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            conv(1, 24), nn.MaxPool2d(2),  # 16 x W/2
            conv(24, 48), nn.MaxPool2d(2),  # 8 x W/4
            conv(48, 64), conv(64, 64), nn.MaxPool2d((2, 1)),  # 4 x W/4
            conv(64, 96), nn.MaxPool2d((2, 1)),  # 2 x W/4
        )
        self.sequence = nn.GRU(192, 96, batch_first=True, bidirectional=True)
        self.head = nn.Linear(192, num_classes + 2)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        f = self.features(rows)  # (B, 96, 2, T)
        f = f.flatten(1, 2).transpose(1, 2)  # (B, T, 192)
        return self.head(self.sequence(f)[0]).log_softmax(-1)
