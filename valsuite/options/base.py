"""Typed option groups (after Polygraphy's argument groups).

Each group is a dataclass whose fields carry their command-line spelling in `option(...)`. The
base class derives the four things every group does from those fields: add its arguments to a
parser, build itself from parsed arguments, validate itself (one-line ValsuiteError) and write
itself back to argv (what a sweep passes to its children). Fields without a flag are settings
that callers fill in, never options a user types.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, ClassVar

from valsuite.errors import ValsuiteError


def option(*flags: str, default: Any = None, help: str, **kwargs: Any) -> Any:
    """A dataclass field that is also a command-line option (kwargs go to add_argument)."""
    meta = {"flags": flags, "help": help, "kwargs": kwargs}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass
class OptionGroup:
    TITLE: ClassVar[str] = "options"

    @classmethod
    def option_fields(cls) -> list[dataclasses.Field]:
        return [f for f in dataclasses.fields(cls) if f.metadata.get("flags")]

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group(cls.TITLE)
        for f in cls.option_fields():
            kwargs = dict(f.metadata["kwargs"])
            if f.type in ("bool", bool) and "action" not in kwargs:
                kwargs["action"] = "store_true"
            group.add_argument(*f.metadata["flags"], dest=f.name, default=_default(f), help=f.metadata["help"],
                               **kwargs)

    @classmethod
    def from_args(cls, ns: argparse.Namespace):
        """The group from parsed arguments, validated."""
        values = vars(ns)
        return cls(**{f.name: values[f.name] for f in cls.option_fields() if f.name in values}).validate()

    def validate(self):
        """Raise ValsuiteError (one line) for impossible values; return self."""
        return self

    def given(self) -> list[str]:
        """Flags whose value differs from the default (what the user changed)."""
        return [f.metadata["flags"][0] for f in self.option_fields() if getattr(self, f.name) != _default(f)]

    def to_argv(self) -> list[str]:
        """The options that differ from their defaults, as a command line that rebuilds this group."""
        argv: list[str] = []
        for f in self.option_fields():
            value = getattr(self, f.name)
            if value == _default(f):
                continue
            flag = f.metadata["flags"][0]
            const = f.metadata["kwargs"].get("const")
            if value is True or (const is not None and value == const):
                argv.append(flag)
            elif isinstance(value, (list, tuple)):
                argv += [flag, *map(str, value)]
            else:
                argv += [flag, str(value)]
        return argv


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None


def refuse(flags: list[str], where: str) -> None:
    """Options given where they have no meaning are errors, never silently ignored."""
    if flags:
        raise ValsuiteError(f"{', '.join(flags)} has no effect {where}")
