"""TensorRT engines: build from a precision ONNX, name, cache with a sidecar, inspect.

Nothing here imports tensorrt at module level: `import valsuite.tensorrt` works on any machine.
Every function that needs TensorRT gets the module from `versions.import_tensorrt()` (or takes it
as a `trt` argument, so tests can pass a fake built from the real API manifests).
"""

from valsuite.tensorrt.profile import ProfileShapes, profile_from_args  # noqa: F401
