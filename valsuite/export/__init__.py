"""ONNX export of a ModelSpec, with a sidecar that later stages read instead of the model."""
