"""A stand-in `tensorrt` module whose attribute set is exactly one real version's API manifest.

Tests run the build and load logic against it: any name the manifest lacks raises AttributeError
(as the real module would), every call and property write is logged, and the few values the
logic needs back (parse success, input tensor, serialized plan, inspector JSON) come from a
`behaviour` table. It proves the logic calls what exists and does what the options say; it does
not prove TensorRT accepts the values (only a real GPU run does).
"""

from __future__ import annotations

from tools.trt_apicheck import KNOWN_RETURNS, Manifest


class FakeEnumValue:
    def __init__(self, enum: str, name: str, index: int) -> None:
        self.enum, self.name, self.value = enum, name, index

    def __int__(self) -> int:
        return self.value

    def __eq__(self, other) -> bool:
        return isinstance(other, FakeEnumValue) and (self.enum, self.name) == (other.enum, other.name)

    def __hash__(self) -> int:
        return hash((self.enum, self.name))

    def __repr__(self) -> str:
        return f"{self.enum}.{self.name}"


class _FakeNamespace:
    """A class or enum of the manifest: attribute access limited to what the manifest lists."""

    def __init__(self, fake: "FakeTensorRT", name: str) -> None:
        self._fake, self._name = fake, name
        self._entry = fake._manifest.module[name]

    def __getattr__(self, attr: str):
        values = self._entry.get("values", [])
        if attr in values:
            return FakeEnumValue(self._name, attr, values.index(attr))
        if attr in self._entry.get("attributes", {}):
            return FakeEnumValue(self._name, attr, sorted(self._entry["attributes"]).index(attr))
        raise AttributeError(f"type object '{self._name}' has no attribute '{attr}' "
                             f"(TensorRT {self._fake.__version__})")

    def __call__(self, *args, **kwargs):
        self._fake.log.append((self._name, "__init__", args))
        return FakeObject(self._fake, self._name)


class FakeObject:
    def __init__(self, fake: "FakeTensorRT", cls: str) -> None:
        object.__setattr__(self, "_fake", fake)
        object.__setattr__(self, "_cls", cls)
        object.__setattr__(self, "_state", {})

    def _attributes(self) -> dict:
        return self._fake._manifest.module[self._cls].get("attributes", {})

    def __getattr__(self, attr: str):
        docs = self._attributes()
        if attr not in docs:
            raise AttributeError(f"'{self._cls}' object has no attribute '{attr}' (TensorRT {self._fake.__version__})")
        if attr in self._state:
            return self._state[attr]
        key = (self._cls, attr)
        is_method = docs[attr].startswith(f"{attr}(")
        if not is_method:  # a property
            value = self._fake.behaviour.get(key)
            return value(self) if callable(value) else value
        return lambda *args, **kwargs: self._fake._call(self, attr, args, kwargs)

    def __setattr__(self, attr: str, value) -> None:
        if attr not in self._attributes():
            raise AttributeError(f"'{self._cls}' object has no attribute '{attr}' (TensorRT {self._fake.__version__})")
        self._fake.log.append((self._cls, f"set {attr}", (value,)))
        self._state[attr] = value

    def __repr__(self) -> str:
        return f"<fake {self._cls}>"


class FakeTensorRT:
    """`FakeTensorRT(manifest, behaviour)` behaves like `import tensorrt as trt` of that version."""

    def __init__(self, manifest: Manifest, behaviour: dict | None = None) -> None:
        self._manifest = manifest
        self.__version__ = manifest.version
        self.__name__ = manifest.module_name  # "tensorrt" or "tensorrt_rtx": picks the flavour
        self.behaviour = dict(behaviour or {})
        self.log: list[tuple] = []

    def __getattr__(self, name: str):
        entry = self._manifest.module.get(name)
        if entry is None or name.startswith("_"):
            raise AttributeError(f"module 'tensorrt' {self._manifest.version} has no attribute '{name}'")
        kind = entry.get("kind")
        if kind in ("class", "enum"):
            return _FakeNamespace(self, name)
        if kind == "DataType":
            return FakeEnumValue("DataType", name.upper(), 0)
        return lambda *args, **kwargs: None

    def _call(self, obj: FakeObject, method: str, args, kwargs):
        self.log.append((obj._cls, method, args))
        key = (obj._cls, method)
        if key in self.behaviour:
            value = self.behaviour[key]
            return value(obj, *args, **kwargs) if callable(value) else value
        ret = self._manifest.return_type(obj._cls, method) or KNOWN_RETURNS.get(key)
        if ret and self._manifest.kind(ret) == "class":
            return FakeObject(self, ret)
        return None

    def calls(self, cls: str, method: str) -> list[tuple]:
        """Arguments of every logged call (or property write, method='set name')."""
        return [args for c, m, args in self.log if c == cls and m == method]


def _fake_layer(network: FakeObject, index: int) -> FakeObject:
    layer = FakeObject(network._fake, "ILayer")
    layer._state["index"] = index  # the fake's own bookkeeping, not a TensorRT attribute
    return layer


def build_behaviour(input_shape=(-1, 3, 224, 224), inspector_json: str = '{"Layers": []}', num_layers: int = 3,
                    parse_ok: bool = True, plan: bytes | None = b"fake-serialized-engine") -> dict:
    """What the build path needs back from TensorRT to run end to end against the fake."""
    return {
        ("OnnxParser", "parse_from_file"): parse_ok,
        ("OnnxParser", "num_errors"): 0 if parse_ok else 1,
        ("OnnxParser", "get_error"): lambda obj, i: "In node 0 (Conv): unsupported fake error",
        ("INetworkDefinition", "num_inputs"): 1,
        ("INetworkDefinition", "num_layers"): 2,  # a DEQUANTIZE (fp32 out) and a CONVOLUTION (fp16 out)
        ("ILayer", "name"): lambda obj: f"layer{id(obj) % 1000}",
        ("ILayer", "num_outputs"): 1,
        ("ILayer", "type"): lambda obj: FakeEnumValue("LayerType", "DEQUANTIZE" if obj._state.get("index") == 0
                                                      else "CONVOLUTION", 0),
        ("ILayer", "get_output_type"): lambda obj, i: FakeEnumValue("DataType", "FLOAT" if obj._state.get("index") == 0
                                                                    else "HALF", 0),
        ("INetworkDefinition", "get_layer"): _fake_layer,
        ("ITensor", "name"): "input",
        ("ITensor", "shape"): tuple(input_shape),
        ("Builder", "build_serialized_network"): plan,
        ("ITimingCache", "serialize"): b"fake-timing-cache",
        ("ICudaEngine", "num_layers"): num_layers,
        ("ICudaEngine", "num_io_tensors"): 2,
        ("IExecutionContext", "set_input_shape"): True,
        ("EngineInspector", "get_engine_information"): inspector_json,
    }
