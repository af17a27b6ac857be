"""kerasext: Keras 3 components that are correct first.

Importing `kerasext` imports every subpackage, so every public class is
registered with Keras serialization and `.keras` files load with
`safe_mode=True` and no `custom_objects`.
"""

__version__ = "0.1.0.dev0"

from kerasext import callbacks as callbacks  # noqa: E402
from kerasext import distribute as distribute  # noqa: E402
from kerasext import layers as layers  # noqa: E402
from kerasext import metrics as metrics  # noqa: E402
from kerasext import model_selection as model_selection  # noqa: E402
from kerasext import models as models  # noqa: E402
from kerasext import plot as plot  # noqa: E402  (matplotlib is imported only when a figure is drawn)
from kerasext import training as training  # noqa: E402
from kerasext import tuning as tuning  # noqa: E402
