"""Where a config, a sweep or a figure spec named on the command line is found, and the copies prec ships.

One rule for every kind of file, first match wins:

1. a path the user gives that names a file, as given;
2. the name in the working folder's ``configs/`` (the user's own, or edited copies);
3. the name in the copy shipped with the package.

The shipped copy is the repository's top-level ``configs/``: the wheel carries it as the package data
``precision_jax/_configs`` (pyproject.toml maps the folder there at build time, so the repository holds one copy
of each file), and a checkout without it (an editable install, or the source tree on ``sys.path``) reads
``configs/`` beside the package.

A *name* is a path inside a configs tree, its ``.yaml`` optional: ``quickstart``, ``precision/x_squared``,
``sweeps/widths``. A sweep or a figure may drop its folder (``widths``, ``3``), and a leading ``configs/`` is
ignored, so ``prec run configs/quickstart.yaml`` works from any folder as it does from the repository's.
Each kind lives in its own part of the tree: sweeps in ``sweeps/``, figure specs in ``figures/``, experiment
configs everywhere else.

A file may name another by a path relative to itself (a sweep's ``base: ../classical/simplex_I.30.5.yaml``,
a config's ``target.data: xy_samples.csv``); :func:`copy_plan` copies those along, to the same places
relative to the copy, so that a copied file reads what the shipped one reads.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Iterator, Optional

import yaml

from precision_jax.config.engine import ConfigError

USER_CONFIGS = Path("configs")  # the working folder's own configs tree
KINDS = ("experiment", "sweep", "figure")
FOLDERS = {"experiment": "", "sweep": "sweeps", "figure": "figures"}
SUFFIXES = (".yaml", ".yml")
LISTED_IN_FULL = 16  # an error names at most this many known names; more are left to `prec configs list`


def shipped_root() -> Path:
    """The configs tree shipped with the package (``precision_jax/_configs`` in a wheel, else the checkout's
    ``configs/``)."""
    packaged = resources.files("precision_jax").joinpath("_configs")
    # pip unpacks a wheel into files, so the packaged tree is a real folder.
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "configs"


def search_roots(root: str | Path = ".") -> list[Path]:
    """The configs trees a name is looked up in, in order: ``root/configs``, then the shipped tree (once, when
    ``root`` is the repository itself)."""
    roots = [Path(root) / USER_CONFIGS]
    shipped = shipped_root()
    if not any(_same_folder(shipped, r) for r in roots):
        roots.append(shipped)
    return roots


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def display_path(path: Path) -> Path:
    """``path`` relative to the working folder when it lies inside it (shorter in messages), else absolute."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        return path.resolve()


def _tree_name(name: str | os.PathLike, kind: str) -> Optional[PurePosixPath]:
    """The name as a relative path in a configs tree (no suffix added), or None if it cannot be one."""
    text = os.fspath(name)
    if not text or os.path.isabs(text):
        return None
    parts = [p for p in PurePosixPath(text.replace(os.sep, "/")).parts if p != "."]
    if not parts or ".." in parts:
        return None
    if parts[0] == USER_CONFIGS.name and len(parts) > 1:
        parts = parts[1:]
    folder = FOLDERS[kind]
    if folder and parts[0] != folder:
        parts = [folder, *parts]
    return PurePosixPath(*parts)


def _candidates(tree_name: PurePosixPath) -> list[str]:
    text = str(tree_name)
    return [text] if text.endswith(SUFFIXES) else [text + s for s in SUFFIXES]


def in_tree(tree: Path, name: str | os.PathLike, kind: str) -> Optional[Path]:
    """The file ``name`` names in the configs tree ``tree``, or None."""
    tree_name = _tree_name(name, kind)
    for candidate in _candidates(tree_name) if tree_name is not None else ():
        if (tree / candidate).is_file():
            return tree / candidate
    return None


def _label(kind: str) -> str:
    return {"experiment": "config", "sweep": "sweep", "figure": "figure spec"}[kind]


def find(name_or_path: str | os.PathLike, kind: str, root: str | Path = ".") -> Path:
    """The file a user means by ``name_or_path``: the path itself if it is a file, else the name in
    :func:`search_roots` (``root/configs`` first). Raises a one-line :class:`ConfigError` naming where it looked.

    A path that cannot be a name (absolute, or climbing out with ``..``) is returned as given, for the reader
    to refuse in its own words (no such file, not a regular file)."""
    path = Path(name_or_path)
    tree_name = _tree_name(name_or_path, kind)
    if path.is_file() or tree_name is None:
        return path
    roots = search_roots(root)
    for tree in roots:
        found = in_tree(tree, name_or_path, kind)
        if found is not None:
            return display_path(found)
    folder = FOLDERS[kind]
    looked = ", ".join(str(display_path(t / folder)) for t in roots)
    known = sorted({n for t in roots for n in names(kind, t)})
    shown = ", ".join(known) if len(known) <= LISTED_IN_FULL else f"{len(known)} of them (prec configs list)"
    raise ConfigError(f"no {_label(kind)} named {os.fspath(name_or_path)!r} (no such file, nor in {looked}); "
                      f"known: {shown or 'none'}")


def names(kind: str, tree: Path) -> list[str]:
    """The names of ``kind`` in the configs tree ``tree``, sorted (a sweep or figure without its folder)."""
    folder = FOLDERS[kind]
    if not tree.is_dir():
        return []
    if folder:
        return sorted(p.stem for p in (tree / folder).glob("*") if p.suffix in SUFFIXES and p.is_file())
    others = {f for f in FOLDERS.values() if f}
    found = []
    for p in tree.rglob("*"):
        relative = p.relative_to(tree)
        if p.suffix in SUFFIXES and p.is_file() and relative.parts[0] not in others:
            found.append(relative.with_suffix("").as_posix())
    return sorted(found)


def available(kind: str, root: str | Path = ".") -> list[str]:
    """The names of ``kind`` found in any of :func:`search_roots`."""
    return sorted({n for tree in search_roots(root) for n in names(kind, tree)})


def description(path: Optional[Path], width: int = 100) -> str:
    """The first sentence of the file's leading comment (every shipped file opens with one), cut at a word
    to at most ``width`` characters; '' when there is none."""
    lines = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.startswith("#"):
                    break
                lines.append(line.lstrip("#").strip())
    except (OSError, TypeError, UnicodeDecodeError):
        return ""
    text = " ".join(" ".join(lines).split())
    end = text.find(". ")
    text = text[:end + 1] if end >= 0 else text
    if len(text) <= width:
        return text
    return text[:width - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


# --------------------------------------------------------------------------- copying out


def shipped_file(name: str) -> Path:
    """The shipped file a ``prec configs copy`` name means: tried as an experiment, a sweep and a figure name;
    refused when none or more than one file matches."""
    tree = shipped_root()
    found: dict[Path, None] = {}
    for kind in KINDS:
        path = in_tree(tree, name, kind)
        if path is not None:
            found[path.resolve()] = None
    if not found:
        raise ConfigError(f"no shipped config, sweep or figure spec named {name!r} (prec configs list shows them)")
    if len(found) > 1:
        options = ", ".join(p.relative_to(tree.resolve()).with_suffix("").as_posix() for p in found)
        raise ConfigError(f"{name!r} names more than one shipped file: {options}; give one of these")
    return next(iter(found))


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)


def references(path: Path, tree: Path) -> list[Path]:
    """The files of ``tree`` that the YAML file ``path`` names by a path relative to itself, and theirs in turn."""
    tree = tree.resolve()
    seen: dict[Path, None] = {}
    pending = [path.resolve()]
    while pending:
        current = pending.pop()
        if current.suffix not in SUFFIXES:
            continue
        try:
            with open(current, encoding="utf-8") as f:
                data = yaml.safe_load(f)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for text in _strings(data):
            if "/" not in text and "." not in text or os.path.isabs(text) or "\n" in text:
                continue
            target = (current.parent / text).resolve()
            if target != path.resolve() and target not in seen and target.is_relative_to(tree) and target.is_file():
                seen[target] = None
                pending.append(target)
    return list(seen)


def copy_plan(name: str, dest: str | Path = USER_CONFIGS) -> list[tuple[Path, Path]]:
    """``(shipped file, copy)`` pairs for ``prec configs copy NAME DEST``: the named file first, then the files it
    names (see :func:`references`). ``dest`` is a configs tree: each copy keeps its place in the shipped tree
    (``dest/sweeps/widths.yaml``), so that with the default ``dest`` the copy is the one a name now finds."""
    tree = shipped_root().resolve()
    source = shipped_file(name)
    return [(s, Path(dest) / s.relative_to(tree)) for s in [source, *references(source, tree)]]


def copy_new(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target``, which must not exist (created exclusively: an existing file is never
    replaced, even one that appeared after the caller looked)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    data = source.read_bytes()
    with open(target, "xb") as f:
        f.write(data)
