"""valsuite: measure ImageNet classifiers across inference engines and precisions.

Importing the package must stay cheap and must not need torch extras, TensorRT, ultralytics or a
GPU: optional engines are imported lazily by the modules that use them.
"""

__version__ = "0.1.0"
