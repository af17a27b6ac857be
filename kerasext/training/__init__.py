"""kerasext.training: custom training steps as model wrappers (TrainStep, SAM, AdversarialTraining)."""

from kerasext.training.adversarial import AdversarialTraining
from kerasext.training.sam import SAM
from kerasext.training.train_step import TrainStep

__all__ = [
    "AdversarialTraining",
    "SAM",
    "TrainStep",
]
