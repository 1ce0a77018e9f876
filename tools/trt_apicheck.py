"""Static check of valsuite's TensorRT calls against the real API manifests of each version.

TensorRT cannot run on this project's machines, so the code that calls it is read with `ast`:
every `trt.X`, `trt.X.Y` and every method or property used on a TensorRT object must exist in
each manifest (../shared/trt-api/tensorrt-<version>.json, and tensorrt_rtx-<version>.json for
TensorRT for RTX) of a version that reaches that line.

Flavours: shared code is reached by every manifest of both flavours. The methods of a class that
sets `module_name = "tensorrt"` or `module_name = "tensorrt_rtx"` (the flavour classes in
valsuite/tensorrt/flavour.py) are reached only by that flavour's manifests; that is where the
flavours differ, instead of `if` branches.

What counts as a TensorRT object, and of which class:
- the module: a name bound by `import tensorrt [as x]`, `x = import_tensorrt()`, or named `trt`;
- `trt.C(...)` for a class C (Builder, Runtime, OnnxParser, Logger, ...) -> an instance of C;
- a method call on an instance -> the class its manifest signature returns (`-> ...IBuilderConfig`),
  or KNOWN_RETURNS where pybind11 only shows `(*args, **kwargs)`;
- conventional names (CONVENTIONS: builder, network, config, parser, runtime, engine, context,
  inspector, profile, logger, timing_cache, tensor), as parameters, locals or `self.` attributes,
  hold instances of their class unless known to be something else: a parameter annotated with a
  non-TensorRT type, or a value made by a non-TensorRT import (`argparse.ArgumentParser(...)`) or
  by a function annotated to return one. An unannotated `profile = helper()` is still checked as
  an IOptimizationProfile: in these modules such names are reserved for TensorRT objects.

Version branches: the body of `if trt_major() >= 11:` (or `trt_version() < (10, 13)`, any of
< <= > >= == !=, combined with and/or/not) is checked only against the versions that satisfy
the condition, its `else` against the others. A condition is evaluated with each manifest's own
version, as it is at run time: TensorRT-RTX 1.7 satisfies `trt_major() < 11` (so flavour
differences belong in the flavour classes, not in version branches). `getattr(obj, "name", default)` and `hasattr` are
capability probes and are listed, not required. Anything else is required in every version.
"""

from __future__ import annotations

import argparse
import ast
import json
import operator
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

CONVENTIONS = {
    "builder": "Builder", "network": "INetworkDefinition", "config": "IBuilderConfig",
    "parser": "OnnxParser", "runtime": "Runtime", "engine": "ICudaEngine",
    "context": "IExecutionContext", "inspector": "EngineInspector", "profile": "IOptimizationProfile",
    "logger": "Logger", "timing_cache": "ITimingCache", "tensor": "ITensor",
}
KNOWN_RETURNS = {  # overloaded bindings whose docstring has no return type
    ("Runtime", "deserialize_cuda_engine"): "ICudaEngine",
    ("Builder", "build_serialized_network"): "IHostMemory",
    ("ICudaEngine", "create_execution_context"): "IExecutionContext",
}
PROPERTY_TYPES = {
    ("IExecutionContext", "engine"): "ICudaEngine",
    ("EngineInspector", "execution_context"): "IExecutionContext",
    ("INetworkDefinition", "builder"): "Builder",
}
RETURN_ALIASES = {"nvonnxparser::IParserError": "ParserError", "nvinfer1::IRuntimeCache": "IRuntimeCache"}
MODULE_NAMES = ("tensorrt", "tensorrt_rtx")
DISPLAY = {"tensorrt": "TensorRT", "tensorrt_rtx": "TensorRT-RTX"}
ALLOWED_DUNDERS = {"__version__"}  # the manifests' "version" field is read from it
VERSION_FUNCS = {"trt_major", "trt_version"}
_OPS = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
        ast.Eq: operator.eq, ast.NotEq: operator.ne}
_FLIP = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}


@dataclass(frozen=True)
class Manifest:
    version: str
    module: dict = field(repr=False, compare=False, hash=False)
    module_name: str = "tensorrt"       # "tensorrt" or "tensorrt_rtx" (the manifest's "flavour")

    @property
    def label(self) -> str:
        """'TensorRT 11.4.0.106' or 'TensorRT-RTX 1.7.1.116'."""
        return f"{DISPLAY.get(self.module_name, self.module_name)} {self.version}"

    @property
    def vtuple(self) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", self.version))

    def has(self, owner: str | None, name: str) -> bool:
        if owner is None:
            return name in self.module or name in ALLOWED_DUNDERS
        entry = self.module.get(owner)
        if not isinstance(entry, dict):
            return False
        return name in entry.get("attributes", {}) or name in entry.get("values", [])

    def kind(self, name: str) -> str | None:
        entry = self.module.get(name)
        return entry.get("kind") if isinstance(entry, dict) else None

    def return_type(self, owner: str, method: str) -> str | None:
        doc = self.module.get(owner, {}).get("attributes", {}).get(method, "")
        match = re.search(r"->\s*(\S+)\s*$", doc or "")
        if not match:
            return None
        ret = RETURN_ALIASES.get(match.group(1), match.group(1))
        ret = re.sub(r"^(\w+_bindings\.)?(tensorrt|tensorrt_rtx)\.", "", ret)
        return ret if ret in self.module else None


def load_manifests(folder: str | Path) -> list[Manifest]:
    """Every tensorrt-<version>.json and tensorrt_rtx-<version>.json, TensorRT first, oldest first."""
    paths = sorted(p for name in MODULE_NAMES for p in Path(folder).glob(f"{name}-*.json"))
    manifests = [Manifest(d["version"], d["module"], d.get("flavour", "tensorrt"))
                 for d in (json.loads(p.read_text()) for p in paths)]
    return sorted(manifests, key=lambda m: (MODULE_NAMES.index(m.module_name), m.vtuple))


@dataclass(frozen=True)
class Use:
    file: str
    line: int
    owner: str | None      # TensorRT class (or enum) the name is looked up on; None: the module
    name: str
    versions: frozenset    # manifest versions that reach this line
    probe: bool = False    # getattr with a default / hasattr: listed, not required

    @property
    def text(self) -> str:
        return f"trt.{self.name}" if self.owner is None else f"{self.owner}.{self.name}"


@dataclass(frozen=True)
class Violation:
    use: Use
    version: str
    label: str = ""  # 'TensorRT-RTX 1.7.1.116'

    def __str__(self) -> str:
        return f"{self.use.file}:{self.use.line}: {self.use.text} does not exist in {self.label or self.version}"


@dataclass
class Report:
    uses: list[Use]
    violations: list[Violation]

    def checked(self) -> set[str]:
        return {u.text for u in self.uses if not u.probe}


# value kinds the walker tracks: ("module",), ("class", C) for the class object, ("obj", C) for an instance
MODULE = ("module",)
FOREIGN = ("foreign",)  # known not to be TensorRT: stops the naming convention


class _Walker(ast.NodeVisitor):
    """Walks one module in source order, tracking TensorRT values and the versions that reach a line."""

    def __init__(self, filename: str, manifests: list[Manifest]) -> None:
        self.filename = filename
        self.manifests = manifests
        self.by_version = {m.version: m for m in manifests}
        self.reach = frozenset(self.by_version)
        self.scopes: list[dict] = [{}]
        self.self_types: dict = {}
        self.muted = False
        self.uses: list[Use] = []
        self.function_returns: dict = {}

    # -- types ------------------------------------------------------------------------------------
    def annotation_type(self, node):
        """`trt.ICudaEngine` / "trt.ICudaEngine" -> that class; any other annotation -> FOREIGN."""
        if node is None:
            return None
        text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ast.unparse(node)
        match = re.fullmatch(r"(?:trt|tensorrt)\.(\w+)", text.strip())
        if match:
            return ("obj", match.group(1))
        return FOREIGN

    def collect_functions(self, tree) -> None:
        """Module-level functions with a return annotation type what they return."""
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
                self.function_returns[node.name] = self.annotation_type(node.returns)

    def _class_kind(self, name: str):
        for m in self.manifests:
            kind = m.kind(name)
            if kind in ("class", "enum"):
                return ("class", name)
        return None

    def _return_type(self, owner: str, method: str) -> str | None:
        for m in reversed(self.manifests):
            ret = m.return_type(owner, method)
            if ret:
                return ret
        return KNOWN_RETURNS.get((owner, method))

    def lookup(self, name: str):
        for scope in reversed(self.scopes):
            if name in scope and scope[name] is not None:
                return scope[name]
        if name == "trt":
            return MODULE
        return ("obj", CONVENTIONS[name]) if name in CONVENTIONS else None

    def typeof(self, node):
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                found = self.self_types.get(node.attr)
                return found or (("obj", CONVENTIONS[node.attr]) if node.attr in CONVENTIONS else None)
            base = self.typeof(node.value)
            if base == FOREIGN:
                return FOREIGN
            if base == MODULE:
                return self._class_kind(node.attr)
            if base and base[0] == "obj":
                prop = PROPERTY_TYPES.get((base[1], node.attr))
                return ("obj", prop) if prop else None
            return None
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "import_tensorrt":
                return MODULE
            if isinstance(func, ast.Name) and func.id in self.function_returns:
                return self.function_returns[func.id]
            root = func
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and self.lookup(root.id) == FOREIGN:
                return FOREIGN
            target = self.typeof(func)
            if target and target[0] == "class":
                return ("obj", target[1])
            if isinstance(func, ast.Attribute):
                base = self.typeof(func.value)
                if base and base[0] == "obj":
                    ret = self._return_type(base[1], func.attr)
                    return ("obj", ret) if ret else None
        return None

    # -- recording --------------------------------------------------------------------------------
    def record(self, node, owner: str | None, name: str, probe: bool = False) -> None:
        if not self.muted:
            self.uses.append(Use(self.filename, node.lineno, owner, name, self.reach, probe))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        base = self.typeof(node.value)
        if base == MODULE:
            self.record(node, None, node.attr)
        elif base and base[0] in ("class", "obj"):
            self.record(node, base[1], node.attr)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (isinstance(func, ast.Name) and func.id in ("getattr", "hasattr") and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            base = self.typeof(node.args[0])
            if base == MODULE or (base and base[0] in ("class", "obj")):
                owner = None if base == MODULE else base[1]
                probe = func.id == "hasattr" or len(node.args) >= 3
                self.record(node, owner, node.args[1].value, probe=probe)
        self.generic_visit(node)

    # -- bindings ---------------------------------------------------------------------------------
    def _bind(self, target, value_type) -> None:
        if isinstance(target, ast.Name):
            self.scopes[-1][target.id] = value_type
        elif (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
              and target.value.id == "self" and value_type is not None):
            self.self_types[target.attr] = value_type

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        value_type = self.typeof(node.value)
        for target in node.targets:
            self.visit(target)
            self._bind(target, value_type)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self.visit(node.target)
            self._bind(node.target, self.typeof(node.value))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name in MODULE_NAMES:
                self.scopes[-1][alias.asname or "tensorrt"] = MODULE
            else:
                self.scopes[-1][alias.asname or alias.name.split(".")[0]] = FOREIGN

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module in MODULE_NAMES:
            for alias in node.names:
                self.record(node, None, alias.name)
                self.scopes[-1][alias.asname or alias.name] = self._class_kind(alias.name)
        else:
            for alias in node.names:
                self.scopes[-1][alias.asname or alias.name] = FOREIGN

    def visit_FunctionDef(self, node) -> None:
        for deco in node.decorator_list:
            self.visit(deco)
        self.scopes.append({})
        for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
            # a parameter shadows outer names; unannotated ones still follow the naming convention
            self.scopes[-1][arg.arg] = self.annotation_type(arg.annotation)
        for stmt in node.body:
            self.visit(stmt)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    @staticmethod
    def class_module_name(node: ast.ClassDef) -> str | None:
        """`module_name = "tensorrt_rtx"` in a class body: its methods belong to that flavour."""
        for stmt in node.body:
            if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                    and stmt.targets[0].id == "module_name" and isinstance(stmt.value, ast.Constant)
                    and stmt.value.value in MODULE_NAMES):
                return stmt.value.value
        return None

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        saved, self.self_types = self.self_types, {}
        saved_reach = self.reach
        flavour = self.class_module_name(node)
        if flavour is not None:
            self.reach = frozenset(v for v in self.reach if self.by_version[v].module_name == flavour)
        muted, self.muted = self.muted, True
        for stmt in node.body:  # first pass: learn what the methods store on self
            self.visit(stmt)
        self.muted = muted
        for stmt in node.body:
            self.visit(stmt)
        self.self_types = saved
        self.reach = saved_reach

    # -- version branches ---------------------------------------------------------------------------
    def _version_value(self, node, manifest: Manifest):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name == "trt_major":
                return manifest.vtuple[0]
            if name == "trt_version":
                return manifest.vtuple
        return None

    def condition(self, node):
        """manifest -> bool for a version condition the checker understands, else None."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.condition(node.operand)
            return (lambda m: not inner(m)) if inner else None
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(v) for v in node.values]
            if any(p is None for p in parts):
                return None
            combine = all if isinstance(node.op, ast.And) else any
            return lambda m: combine(p(m) for p in parts)
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
            return None
        left, op, right = node.left, type(node.ops[0]), node.comparators[0]
        if self._is_version_call(right):
            left, right, op = right, left, _FLIP.get(op, op)
        if not self._is_version_call(left) or op not in _OPS:
            return None
        try:
            constant = ast.literal_eval(right)
        except ValueError:
            return None
        return lambda m: _OPS[op](self._version_value(left, m), constant)

    @staticmethod
    def _is_version_call(node) -> bool:
        if not isinstance(node, ast.Call):
            return False
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        return name in VERSION_FUNCS

    def _branch(self, test, body, orelse) -> None:
        cond = self.condition(test)
        self.visit(test)
        if cond is None:
            body_reach = else_reach = self.reach
        else:
            body_reach = frozenset(v for v in self.reach if cond(self.by_version[v]))
            else_reach = self.reach - body_reach
        saved = self.reach
        for reach, nodes in ((body_reach, body), (else_reach, orelse)):
            self.reach = reach
            for stmt in (nodes if isinstance(nodes, list) else [nodes]):
                self.visit(stmt)
        self.reach = saved

    def visit_If(self, node: ast.If) -> None:
        self._branch(node.test, node.body, node.orelse)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self._branch(node.test, node.body, node.orelse)


def check_source(source: str, filename: str, manifests: list[Manifest]) -> Report:
    walker = _Walker(filename, manifests)
    tree = ast.parse(source, filename=filename)
    walker.collect_functions(tree)
    walker.visit(tree)
    violations = [Violation(use, v, walker.by_version[v].label) for use in walker.uses if not use.probe
                  for v in sorted(use.versions, key=lambda s: walker.by_version[s].vtuple)
                  if not walker.by_version[v].has(use.owner, use.name)]
    return Report(walker.uses, violations)


def check_files(paths, manifests: list[Manifest], root: Path | None = None) -> Report:
    uses, violations = [], []
    for path in paths:
        path = Path(path)
        name = str(path.relative_to(root)) if root else str(path)
        report = check_source(path.read_text(encoding="utf-8"), name, manifests)
        uses += report.uses
        violations += report.violations
    return Report(uses, violations)


def tensorrt_modules(repo_root: Path) -> list[Path]:
    """The modules that call TensorRT: the valsuite.tensorrt package, the backend, the TensorRT CLI."""
    root = Path(repo_root) / "valsuite"
    return sorted((root / "tensorrt").glob("*.py")) + [
        root / "backends" / "tensorrt_backend.py", root / "cli" / "build_trt_cli.py", root / "options" / "trt.py"]


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description="check valsuite's TensorRT calls against API manifests")
    parser.add_argument("--manifests", type=Path, default=root.parent / "shared" / "trt-api")
    parser.add_argument("files", nargs="*", type=Path, help="default: the TensorRT-calling modules")
    args = parser.parse_args(argv)
    manifests = load_manifests(args.manifests)
    if not manifests:
        print(f"no tensorrt-*.json or tensorrt_rtx-*.json manifests in {args.manifests}", file=sys.stderr)
        return 2
    report = check_files(args.files or tensorrt_modules(root), manifests, None if args.files else root)
    required = [u for u in report.uses if not u.probe]
    for m in manifests:
        n = sum(1 for u in required if m.version in u.versions)
        bad = sum(1 for v in report.violations if v.version == m.version)
        print(f"{m.label}: {n} uses checked ({len({u.text for u in required if m.version in u.versions})} "
              f"distinct names), {bad} missing")
    for violation in report.violations:
        print(violation)
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
