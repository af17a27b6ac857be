"""kerasext.metrics: classification metrics equal to scikit-learn's, streamed and distributed.

One core (`confusion.ConfusionCounts`) accumulates exact per-class
confusion counts from any label format; every metric here is a view of it.
"""

from kerasext.metrics.agreement import (
    BalancedAccuracy,
    CohenKappa,
    MatthewsCorrelation,
    TopKAccuracy,
)
from kerasext.metrics.confusion_matrix import ConfusionMatrix
from kerasext.metrics.ranking import AUROC, AveragePrecision
from kerasext.metrics.report import ClassificationReport
from kerasext.metrics.scores import F1Score, FBetaScore, Precision, Recall

__all__ = [
    "AUROC",
    "AveragePrecision",
    "BalancedAccuracy",
    "ClassificationReport",
    "CohenKappa",
    "ConfusionMatrix",
    "F1Score",
    "FBetaScore",
    "MatthewsCorrelation",
    "Precision",
    "Recall",
    "TopKAccuracy",
]
