"""Fuzzing the config engine (issue 26, item 1): random bytes, random YAML, mutated shipped configs, overrides.

``read_yaml`` returns a mapping or refuses with one line of :class:`ConfigError` naming the file;
``load_config`` (``read_yaml`` + ``build_config`` with ``KEY=VALUE`` overrides) returns an
:class:`ExperimentConfig` that round-trips (``to_dict`` → YAML → ``build_config`` gives it back), or refuses
the same way. Nothing else is raised, nothing hangs, nothing is written outside the example's temporary
folder. Counts and commands: :mod:`tests.fuzz_support`.
"""

from __future__ import annotations

import yaml
from hypothesis import strategies as st

from precision_jax.config.engine import ConfigError, read_yaml
from precision_jax.experiment import build_config, load_config
from tests.fuzz_support import INTERESTING_TEXT, KEYS, ROOT, VALUES, assert_one_line, fuzz_pair, mutated, sandbox

SHIPPED = sorted(p for p in (ROOT / "configs").rglob("*.yaml") if p.parent.name not in ("sweeps", "figures"))
SHIPPED_DATA = {p: yaml.safe_load(p.read_text()) for p in SHIPPED}

@st.composite
def dumped(draw, documents):
    """A document as YAML text, in block or flow style."""
    doc = draw(documents)
    return yaml.safe_dump(doc, allow_unicode=draw(st.booleans()), default_flow_style=draw(st.booleans()),
                          sort_keys=False)


YAML_TOKENS = ["a", "name", "model", "train", ":", ": ", "- ", "-", "\n", "\n  ", "\n    ", "\t", " ", "{", "}",
               "[", "]", ",", "?", "&a ", "*a", "<<: *a", "!!str ", "!!int ", "!!float ", "!!binary ", "!!set ",
               "!!omap ", "!!python/object/apply:os.system ", "!!python/name:os.system", "!custom ", "---", "...",
               "%YAML 1.1\n", "%TAG ! tag:x:\n", "'", '"', "|", ">", "#", "1e-3", "1e999", ".nan", "0x", "~",
               "null", "é", "\ufeff", "\x00", "\x85", "\u2028", "\r", "\\", "@", "`", "%"]
yaml_texts = st.lists(st.one_of(st.sampled_from(YAML_TOKENS), st.text(max_size=4)), max_size=40).map("".join)


def _round_trips(cfg) -> None:
    again = build_config(yaml.safe_load(yaml.safe_dump(cfg.to_dict(), allow_unicode=True)))
    assert again == cfg


def check_read_yaml(raw) -> None:
    """read_yaml on any bytes: a mapping, or one line naming the file."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    with sandbox() as tmp:
        path = tmp / "config.yaml"
        path.write_bytes(raw)
        try:
            data = read_yaml(path)
        except ConfigError as e:
            assert_one_line(e, str(path))
            return
        assert isinstance(data, dict)


def check_load_config(text: str) -> None:
    """load_config on a YAML text: a config that round-trips, or one line naming the file."""
    with sandbox() as tmp:
        path = tmp / "config.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            cfg = load_config(path)
        except ConfigError as e:
            assert_one_line(e, str(path))
            return
        _round_trips(cfg)


OVERRIDE_VALUES = st.one_of(
    st.sampled_from(INTERESTING_TEXT + ["[1, 2]", "{a: 1}", "[", "{", "&a [*a]", "'x", "[[[[[[1]]]]]]", "1:2",
                                        "!!python/name:os.system", "- a", "a: b: c", "*x"]),
    st.text(max_size=10), st.integers().map(str), st.floats().map(repr))


@st.composite
def overridden(draw):
    """(shipped config path, overrides): keys mostly the config's own dotted keys, a few made up."""
    path = draw(st.sampled_from(SHIPPED))
    keys = [".".join(str(p) for p in key) for key in _dotted(SHIPPED_DATA[path], ())]
    key = st.one_of(st.sampled_from(keys), st.sampled_from(keys).map(lambda k: k + ".x"),
                    st.sampled_from(["model.width", "train.0.lr", "train.5.lr", "train.-1.lr", "data.x.y",
                                     "seed", "name", "output.dir", "target.formula", "a..b", ".", "", " = ",
                                     "train.01.lr", "train.0", "model", "boost.rounds"]),
                    st.text(max_size=8))
    overrides = draw(st.lists(st.one_of(
        st.tuples(key, OVERRIDE_VALUES).map(lambda kv: f"{kv[0]}={kv[1]}"), st.text(max_size=8)),
        min_size=1, max_size=4))
    return str(path), overrides


def _dotted(node, prefix):
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,)
            yield from _dotted(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield prefix + (i,)
            yield from _dotted(v, prefix + (i,))


def check_overrides(case) -> None:
    """load_config(shipped config, overrides): a config that round-trips, or one line naming the file."""
    path, overrides = case
    with sandbox():
        try:
            cfg = load_config(path, overrides)
        except ConfigError as e:
            assert_one_line(e, path)
            return
        _round_trips(cfg)


random_documents = st.dictionaries(KEYS, VALUES, max_size=6)

# Examples the fuzzing found, kept as regressions.
YAML_REGRESSIONS = ["!!float ", "!!int ", "a: !!int x", "a: !!float 1e999x"]  # IndexError, ValueError from PyYAML
CONFIG_REGRESSIONS = [  # a kind that is a list: TypeError (unhashable) in config/kinds.py, now a ConfigError
    "name: a\ntarget: {equation: I.30.5}\nmodel: {kind: []}\n",
    "name: a\ntarget: {equation: I.30.5}\ntrain:\n- kind: []\n  maxiter: 800\n",
]
OVERRIDE_REGRESSIONS = [  # a key holding a line break: a two-line message, now escaped by ConfigError
    (str(ROOT / "configs" / "classical" / "chebyshev_exp.yaml"), ["0\r0="]),
    (str(ROOT / "configs" / "quickstart.yaml"), ["model.a\u2028b=1"]),
    (str(ROOT / "configs" / "quickstart.yaml"), ["seed=!!float "]),  # IndexError out of PyYAML
    (str(ROOT / "configs" / "quickstart.yaml"), ["model=&a [*a]"]),
]

test_read_yaml_bytes, test_read_yaml_bytes_slow = fuzz_pair(check_read_yaml, st.binary(max_size=300), 150)
test_read_yaml_text, test_read_yaml_text_slow = fuzz_pair(check_read_yaml, yaml_texts, 200, YAML_REGRESSIONS)
test_load_config_random, test_load_config_random_slow = fuzz_pair(
    check_load_config, st.one_of(dumped(random_documents), yaml_texts), 150, YAML_REGRESSIONS)
test_load_config_mutated, test_load_config_mutated_slow = fuzz_pair(
    check_load_config, dumped(mutated(SHIPPED_DATA)), 250, CONFIG_REGRESSIONS)
test_overrides, test_overrides_slow = fuzz_pair(check_overrides, overridden(), 250, OVERRIDE_REGRESSIONS)
