"""The strict-parsing engine: plain YAML data → frozen dataclasses, or one :class:`ConfigError`.

A config is data, never code: YAML is safe-loaded, every key is checked
against a dataclass schema, and the first problem found is raised as a
:class:`ConfigError` whose one-line message names the file, the dotted key
path and what was expected (with the closest valid key when a typo is likely),
e.g. ``cfg.yaml: train.0.lr: must be > 0, got -1.0``.

A schema is a tree of dataclasses. A field's type drives coercion
(:func:`coerce`); its metadata, set with :func:`checked` or
:func:`parsed_field`, carries a validator (a :class:`Check` knows the range it
enforces), a custom parser for fields whose type depends on the data (model
and stage kinds, see :mod:`precision_jax.config.kinds`) and a one-line doc.
:func:`field_docs` reads that metadata back for ``prec schema``.

This module knows no schema and imports nothing from the project, so every
layer (approximators, stages, the experiment schema) can build on it.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Union

import yaml

# What str.splitlines() breaks a line at. A key or a file name may hold one (a YAML key "a\nb", an override
# "0\r0=1"); it is written escaped, so that a refusal stays one line.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def _one_line(text: str) -> str:
    """``text`` with its line breaks written as escapes (``\\n``, ``\\x85``, ...)."""
    return "".join(repr(c)[1:-1] if c in _LINE_BREAKS else c for c in text)


class ConfigError(ValueError):
    """A config problem, with ``where`` (file and key path) and ``what`` (the problem), always one line."""

    def __init__(self, what: str, key: str = "", source: str = ""):
        self.what, self.key, self.source = _one_line(what), key, source
        where = ": ".join(_one_line(p) for p in (source, key) if p)
        super().__init__(f"{where}: {self.what}" if where else self.what)

    def located(self, source: str) -> "ConfigError":
        return ConfigError(self.what, self.key, source)


# --------------------------------------------------------------------------- validators


class Check:
    """A validator ``check(value, key)`` that knows the range it enforces.

    The range text (``"> 0"``, ``"in [0, 1]"``) goes into the error message and
    into ``prec schema``; ``test`` says whether a value is inside it.
    """

    def __init__(self, test: Callable[[Any], bool], range: str):
        self.test, self.range = test, range

    def __call__(self, value: Any, key: str) -> None:
        if not self.test(value):
            raise ConfigError(f"must be {self.range}, got {value!r}", key)

    def __repr__(self) -> str:
        return f"Check({self.range!r})"


positive = Check(lambda v: v > 0, "> 0")
non_negative = Check(lambda v: v >= 0, ">= 0")
fraction = Check(lambda v: 0 <= v <= 1, "in [0, 1]")
unit_interval = Check(lambda v: 0 < v <= 1, "in (0, 1]")


def at_least(low) -> Check:
    """Values ``>= low``."""
    return Check(lambda v: v >= low, f">= {low}")


def between(low, high) -> Check:
    """Values in the closed interval ``[low, high]``."""
    return Check(lambda v: low <= v <= high, f"in [{low}, {high}]")


def checked(default=dataclasses.MISSING, check: Callable[[Any, str], None] | None = None, doc: str = "",
            range: str | None = None, **kwargs):
    """A dataclass field with a validator ``check(value, key)`` and a one-line ``doc``.

    ``range`` describes what ``check`` accepts, for ``prec schema``; a
    :class:`Check` brings its own, a lambda needs it spelled out. The check is
    skipped for ``None`` (an optional field left empty).
    """
    range_text = range if range is not None else getattr(check, "range", "")
    return field(default=default, metadata={"check": check, "doc": doc, "range": range_text}, **kwargs)


def parsed_field(parse: Callable[[Any, str], Any], default=dataclasses.MISSING, *, type: str, doc: str = "",
                 check: Callable[[Any, str], None] | None = None, range: str = "", **kwargs):
    """A field whose value ``parse(data, key)`` builds, for types the annotation cannot say.

    Model and stage configs are chosen by their ``kind`` key, so their type is
    only known from the data. ``type`` is the text ``prec schema`` shows.
    """
    metadata = {"parse": parse, "type": type, "check": check, "doc": doc, "range": range}
    return field(default=default, metadata=metadata, **kwargs)


# --------------------------------------------------------------------------- coercion


def type_name(tp) -> str:
    """``tp`` as error messages say it: ``an integer``, ``a list of a number``, ``'auto'``."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(tp) if a is not type(None))
    if origin in (tuple, list):
        return f"a list of {type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert a YAML value to ``tp``, raising :class:`ConfigError` naming ``key``."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        alternatives = [a for a in args if a is not type(None)]
        if len(alternatives) == 1:  # Optional[X]: X's own message is the most precise
            return coerce(value, alternatives[0], key)
        for arg in alternatives:
            try:
                return coerce(value, arg, key)
            except ConfigError:
                pass
        raise ConfigError(f"expected {type_name(tp)}, got {value!r}", key)
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        raise ConfigError(f"expected {type_name(tp)}, got {value!r}", key)
    if dataclasses.is_dataclass(tp):
        return parse_dataclass(tp, value, key)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"expected {type_name(tp)}, got {value!r}", key)
        (item_tp, *rest) = typing.get_args(tp)
        if rest and rest[0] is not Ellipsis:  # fixed-length tuple
            if len(value) != len(typing.get_args(tp)):
                raise ConfigError(f"expected {len(typing.get_args(tp))} items, got {len(value)}", key)
            return tuple(coerce(v, t, f"{key}.{i}") for i, (v, t) in enumerate(zip(value, typing.get_args(tp))))
        return tuple(coerce(v, item_tp, f"{key}.{i}") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"expected a mapping, got {value!r}", key)
        ktp, vtp = typing.get_args(tp)
        return {coerce(k, ktp, key): coerce(v, vtp, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)  # 1e5 in YAML is a float; accept it as an integer
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                if number.is_integer():
                    return int(number)
    elif tp is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
        elif isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                pass
        if number is not None:
            # YAML's .inf and .nan are floats too, but no setting means them: a loop bound or a
            # learning rate of inf would only surface as a NaN curve much later.
            if not math.isfinite(number):
                raise ConfigError(f"expected a finite number, got {value!r}", key)
            return number
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # e.g. an equation id that YAML read as a number
    else:
        raise TypeError(f"unsupported schema type {tp!r}")
    raise ConfigError(f"expected {type_name(tp)}, got {value!r}", key)


def join_key(prefix: str, name: str) -> str:
    """The dotted key path ``prefix.name`` (either part may be empty)."""
    return ".".join(p for p in (prefix, name) if p)


def parse_dataclass(cls: type, data: Any, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys, bad types and bad values.

    Keys in errors are prefixed with ``prefix``; errors raised by the class's
    own ``__post_init__`` are relative to it and get the same prefix.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping, got {data!r}", prefix)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; expected one of: {', '.join(fields)}"
            raise ConfigError(f"unknown key {key!r}{hint}", join_key(prefix, str(key)))
    kwargs = {}
    for name, f in fields.items():
        key = join_key(prefix, name)
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError("missing required key", key)
            continue
        parse = f.metadata.get("parse")
        value = parse(data[name], key) if parse is not None else coerce(data[name], hints[name], key)
        check = f.metadata.get("check")
        if check is not None and value is not None:
            try:
                check(value, key)
            except ConfigError as e:
                raise ConfigError(e.what, key) from None
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except ConfigError as e:
        raise ConfigError(e.what, join_key(prefix, e.key)) from None


def to_dict(obj: Any) -> Any:
    """Plain YAML/JSON-ready data for a config dataclass (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


# --------------------------------------------------------------------------- files and overrides


# Limits on what a config (or sweep) file may be: it is a few dozen lines of text. A file beyond them is
# refused in one line before it can cost memory or time (a multi-gigabyte file, a "billion laughs" of nested
# aliases that expands to 10⁹ nodes, a thousand levels of brackets that would exhaust the parser's stack).
MAX_YAML_BYTES = 1 << 20    # 1 MiB
MAX_YAML_NODES = 100_000    # scalars, lists and mappings after alias expansion
MAX_YAML_DEPTH = 64         # nesting levels


class _YamlLimit(Exception):
    """A document beyond :data:`MAX_YAML_NODES` or :data:`MAX_YAML_DEPTH`, or with a recursive alias."""


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, counting nodes *after* alias expansion and nesting depth while it composes.

    Each alias counts as the whole subtree it stands for (sizes are memoized per
    node, so counting is linear in the text), which stops an exponential alias
    bomb after :data:`MAX_YAML_NODES` nodes instead of after 10⁹. An alias to a
    collection that is still open (``&a [*a]``) is refused: a config is a tree.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._expanded = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}
        self._open_anchors: set[str] = set()

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            anchor = self.peek_event().anchor
            if anchor in self._open_anchors:
                raise _YamlLimit(f"recursive alias *{anchor} (an anchor used inside itself)")
            node = super().compose_node(parent, index)
            self._count(self._sizes.get(id(node), 1))
            return node
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise _YamlLimit(f"nested deeper than {MAX_YAML_DEPTH} levels")
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open_anchors.add(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open_anchors.discard(anchor)
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        self._sizes[id(node)] = 1 + sum(self._sizes.get(id(c), 1) for c in children)
        self._count(1)  # the children were counted as they were composed
        return node

    def _count(self, nodes: int) -> None:
        self._expanded += nodes
        if self._expanded > MAX_YAML_NODES:
            raise _YamlLimit(f"more than {MAX_YAML_NODES:,} YAML nodes once aliases are expanded "
                             f"(an alias bomb, or not a config)")


# What PyYAML's safe constructors raise, besides YAMLError, on a tagged scalar they cannot build: "!!float "
# (IndexError), "!!int x" (ValueError), ...
_CONSTRUCT_ERRORS = (ValueError, IndexError, TypeError, AttributeError, OverflowError)


def load_yaml_text(text: str):
    """Safe-load one YAML document within the limits above; ``yaml.YAMLError`` or :class:`_YamlLimit` otherwise."""
    loader = _LimitedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml(path: str | Path) -> dict:
    """Safe-load a YAML mapping, raising :class:`ConfigError` naming the file.

    Refused in one line, before anything is built from the data: a path that is
    not a regular file, a file over :data:`MAX_YAML_BYTES`, bytes that are not
    UTF-8 text, invalid YAML, a document beyond :data:`MAX_YAML_NODES` nodes
    (after alias expansion) or :data:`MAX_YAML_DEPTH` levels, and anything but a
    mapping at the top.
    """
    path = Path(path)
    source = str(path)
    try:
        if not path.is_file():
            what = "no such file" if not path.exists() else "not a regular file"
            raise ConfigError(f"cannot read config: {what}", source=source)
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise ConfigError(f"file is {size / 2**20:.1f} MiB; a config is at most {MAX_YAML_BYTES >> 20} MiB "
                              f"of YAML text", source=source)
        with open(path, "rb") as f:
            raw = f.read(MAX_YAML_BYTES + 1)  # the file may have grown since stat
    except OSError as e:
        raise ConfigError(f"cannot read config: {e.strerror or e}", source=source) from None
    if len(raw) > MAX_YAML_BYTES:
        raise ConfigError(f"file is over {MAX_YAML_BYTES >> 20} MiB; a config is at most that much YAML text",
                          source=source)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); "
                          f"a config is a YAML text file", source=source) from None
    try:
        data = load_yaml_text(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise ConfigError(f"invalid YAML{where}: {problem}", source=source) from None
    except _YamlLimit as e:
        raise ConfigError(f"refused: {e}", source=source) from None
    except _CONSTRUCT_ERRORS as e:
        raise ConfigError(f"invalid YAML: a tagged value that cannot be built ({type(e).__name__})",
                          source=source) from None
    except RecursionError:
        raise ConfigError("refused: nested too deeply for a config", source=source) from None
    if not isinstance(data, dict):
        raise ConfigError("a config file must hold a mapping", source=source)
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.0.c=value`` → (["a", "b", "0", "c"], YAML-parsed value)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = load_yaml_text(raw) if raw.strip() else ""
    except (yaml.YAMLError, _YamlLimit, RecursionError, *_CONSTRUCT_ERRORS):  # not YAML: the text as it is
        value = raw
    return key.split("."), value


def apply_override(data: dict, path: list[str], value: Any) -> None:
    """Set ``data[path]`` in nested dicts/lists; list items by index, missing dicts created."""
    node: Any = data
    for depth, part in enumerate(path[:-1]):
        key = ".".join(path[: depth + 1])
        if isinstance(node, list):
            node = node[_index(part, node, key)]
        elif isinstance(node, dict):
            node = node.setdefault(part, {})
        else:
            raise ConfigError(f"cannot set a key inside {node!r}", key)
    last = path[-1]
    if isinstance(node, list):
        node[_index(last, node, ".".join(path))] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"cannot set a key inside {node!r}", ".".join(path))


def _index(part: str, items: list, key: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise ConfigError(f"no list item {part!r} (the list has {len(items)} items)", key)
    return int(part)


# --------------------------------------------------------------------------- schema documentation


@dataclass(frozen=True)
class FieldDoc:
    """One key of a schema as ``prec schema`` prints it; every part is one line of text."""

    key: str      # dotted path; list items are ``N`` (``modules.N.width``)
    type: str     # YAML-side type: int, float, str, bool, list[int], a | b, ... | null, mapping
    default: str  # YAML text of the default, or "required"
    range: str    # what the validator accepts ("> 0", "in [0, 1]"), "" when unchecked
    doc: str


def field_docs(cls: type, prefix: str = "") -> list[FieldDoc]:
    """Every key of dataclass ``cls``, nested sections expanded, in declaration order."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        key = join_key(prefix, f.name)
        tp = hints[f.name]
        rows.append(FieldDoc(key, f.metadata.get("type") or schema_type(tp), _default_text(f),
                             f.metadata.get("range", ""), first_line(f.metadata.get("doc", ""))))
        if "parse" not in f.metadata:
            section, item_key = _section_of(tp, key)
            if section is not None:
                rows.extend(field_docs(section, item_key))
    return rows


def first_line(text: str | None) -> str:
    """The first line of a doc string, stripped ("" for none)."""
    return (text or "").strip().split("\n")[0].strip()


def class_doc(cls: type) -> str:
    """The first line of ``cls``'s own docstring ("" when it has none, not the one dataclass generates)."""
    doc = cls.__dict__.get("__doc__") or ""
    return "" if doc.startswith(f"{cls.__name__}(") else first_line(doc)


def _section_of(tp, key: str) -> tuple[type | None, str]:
    """The dataclass nested in ``tp`` (a section, an optional one or a list of them) and its key prefix."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return tp, key
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(tp):
            if dataclasses.is_dataclass(arg):
                return arg, key
    if origin in (tuple, list):
        args = typing.get_args(tp)
        if args and dataclasses.is_dataclass(args[0]) and (len(args) == 1 or args[1] is Ellipsis):
            return args[0], f"{key}.N"
    return None, key


def schema_type(tp) -> str:
    """``tp`` as YAML sees it, for ``prec schema``: ``int``, ``list[int]``, ``mean_abs | rms``, ``float | null``."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return "any"
    if origin is Literal:
        return " | ".join(str(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        parts = [schema_type(a) for a in args if a is not type(None)]
        return " | ".join(parts + (["null"] if type(None) in args else []))
    if origin in (tuple, list):
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis or len(args) == 1:
            return f"list[{schema_type(args[0])}]"
        return "[" + ", ".join(schema_type(a) for a in args) + "]"
    if origin is dict:
        key_tp, value_tp = typing.get_args(tp)
        return f"map[{schema_type(key_tp)} → {schema_type(value_tp)}]"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return {int: "int", float: "float", str: "str", bool: "bool"}.get(tp, getattr(tp, "__name__", str(tp)))


def _default_text(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    if dataclasses.is_dataclass(value):
        return "{}"  # a section: its keys' defaults are listed below it
    if isinstance(value, float):
        return repr(value)  # 1e-06, where YAML would write 1.0e-06
    text = yaml.safe_dump(to_dict(value), default_flow_style=True, allow_unicode=True, width=10**6)
    return text.strip().removesuffix("...").strip()
