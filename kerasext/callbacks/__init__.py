"""kerasext.callbacks: early stopping that survives preemption, and an overfitting detector.

- `EarlyStopping`: Keras' early stopping plus thresholds, NaN checks, relative
  `min_delta` and best weights restored at every end of training, in Keras' argument order.
- `OverfitDetector`: Prechelt's GL / PQ / UP criteria and the train/validation gap.
- `BackupAndRestore`: Keras' backup callback that also saves and restores the
  state of the callbacks above, atomically.
"""

from kerasext.callbacks.backup_and_restore import BackupAndRestore
from kerasext.callbacks.early_stopping import EarlyStopping
from kerasext.callbacks.overfit_detector import OverfitDetector

__all__ = ["BackupAndRestore", "EarlyStopping", "OverfitDetector"]
