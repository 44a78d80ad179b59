"""Training and evaluation tools for view classifiers (training side: torch is imported here).

Modules, one responsibility each:

- :mod:`rtecho.train.data`: ImageFolder of stills and clips, the simulator on the fly, real stills by name.
- :mod:`rtecho.train.sampling`: class-balanced sampling and online batch selection.
- :mod:`rtecho.train.augment`: seeded ultrasound augmentation on uint8 images.
- :mod:`rtecho.train.loop`: :func:`~rtecho.train.loop.fit` with checkpoints, resume, early stopping.
- :mod:`rtecho.train.metrics`: accuracy, precision/recall, F1, Cohen's kappa, confusion matrix (numpy).
- :mod:`rtecho.train.evaluate`: score a checkpoint or an exported ONNX model on a labelled folder.

Importing this package imports nothing heavy; import the submodule you need.
"""

from __future__ import annotations
