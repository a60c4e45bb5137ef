"""Fuzzing the formula parser (issue 26, item 1): random token strings, random expression trees, deep nesting.

A formula is accepted, compiles and evaluates to float64 of shape (n,) at sample points, or it is refused
with one line of :class:`FormulaError` (through a config: a :class:`ConfigError` at ``target.formula`` or
``target.variables``). Nothing else is raised, nothing hangs, nothing is written. Counts and commands:
:mod:`tests.fuzz_support`.
"""

from __future__ import annotations

import builtins
import keyword

import mpmath
import numpy as np
import pytest
from hypothesis import strategies as st

from precision_jax.config.engine import ConfigError
from precision_jax.experiment import build_config
from precision_jax.problems.formula import (
    CONSTANTS,
    FUNCTIONS,
    MAX_NESTING,
    FormulaError,
    compile_formula,
    parse_formula,
)
from tests.fuzz_support import assert_one_line, fuzz_pair, sandbox

VARIABLE_SETS = [(), ("x",), ("x", "y"), ("theta", "sigma", "x"), ("E",), ("pi", "x"), ("x", "x"), ("exp",),
                 ("1x",), ("lambda",), ("é", "ψ"), ("__import__",), ("x", "y", "z", "w", "v")]
BUILTIN_NAMES = sorted(n for n in dir(builtins) if not n.startswith("_"))[:60] + [
    "__import__", "__builtins__", "__class__", "__subclasses__", "os", "sys", "sympy", "Symbol", "oo", "zoo",
    "nan", "inf", "I", "S", "sympify", "N", "Integer", "Float", "Rational", "lambdify"]
NAMES = ["x", "y", "theta", "sigma", "z", *CONSTANTS, *FUNCTIONS, *BUILTIN_NAMES, *keyword.kwlist[:10]]
UNICODE = ["π", "ℯ", "𝑥", "ｘ", "ｅｘｐ", "√", "²", "×", "−", "\u200b", "\u2028", "\x00", "é", "ﬁ", "١", "𝟙",
           "\ufeff", "∞", "·", "⁄", "\N{MATHEMATICAL ITALIC SMALL E}", "ₓ", "Ⅸ"]
NUMBERS = ["0", "1", "2", "2.5", "1e-3", ".5", "5.", "1e308", "1e309", "1e999", "1.5e-400", "9" * 99, "9" * 101,
           "0x1F", "0b101", "0o17", "1_000", "1j", "2J", "0.0", "1e-320", "4.9e-324", "10**400", "2**1023",
           "1e+", "00", "3.14159265358979323846264338327950288"]
OPERATORS = ["+", "-", "*", "/", "**", "^", "//", "%", "@", "&", "|", "<<", ">>", "~", " not ", " and ", " or ", "<",
             "==", ":=", "=", ",", ";", ":", "[", "]", "{", "}", "(", ")", "(", ")", "'", '"', "`", "\\", "\n", "#",
             " if ", " else ", " for ", " in ", " lambda ", "...", ".", "*", "**", "!", "$", "?"]
TOKENS = NAMES + UNICODE + NUMBERS + OPERATORS

variables = st.sampled_from(VARIABLE_SETS)

token_strings = st.tuples(
    st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=3)), max_size=30).flatmap(
        lambda tokens: st.sampled_from(["", " "]).map(lambda sep: sep.join(tokens))),
    variables)

literal = st.one_of(
    st.sampled_from(NUMBERS),
    st.integers(min_value=-(10**120), max_value=10**120).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=0, max_value=1e300).map(lambda v: f"{v:.30e}"))
leaf = st.one_of(literal, st.sampled_from(NAMES + UNICODE), st.sampled_from(["x", "y", "theta", "pi", "E"]))


def _extend(children):
    binop = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**", "^", "//", "%", "<"]), children,
                      st.booleans()).map(lambda t: f"({t[0]}){t[1]}({t[2]})" if t[3] else f"{t[0]}{t[1]}{t[2]}")
    unary = st.tuples(st.sampled_from(["-", "+", "~", "not "]), children).map(lambda t: f"{t[0]}({t[1]})")
    call = st.tuples(st.sampled_from(list(FUNCTIONS) + BUILTIN_NAMES + UNICODE), st.lists(children, max_size=3),
                     st.booleans()).map(lambda t: f"{t[0]}({', '.join(t[1])}{', k=1' if t[2] else ''})")
    attribute = st.tuples(children, st.sampled_from(["real", "__class__", "func", "args", "evalf"])).map(
        lambda t: f"({t[0]}).{t[1]}")
    subscript = st.tuples(children, children).map(lambda t: f"({t[0]})[{t[1]}]")
    return st.one_of(binop, binop, unary, call, call, attribute, subscript)


trees = st.tuples(st.recursive(leaf, _extend, max_leaves=25), variables)

# Deep nesting: far past the parser's, sympy's and Python's recursion limits (and past the 2000 characters).
NESTINGS = {
    "parens": lambda n: "(" * n + "x" + ")" * n,
    "minus": lambda n: "-" * n + "x",
    "exp": lambda n: "exp(" * n + "x" + ")" * n,
    "sin": lambda n: "sin(" * n + "0.5" + ")" * n,
    "power tower": lambda n: "**".join(["x"] * n),
    "constant tower": lambda n: "**".join(["2"] * n),
    "sum": lambda n: "+".join(["x"] * n),
    "product": lambda n: "*".join(["2.5"] * n),
    "brackets": lambda n: "[" * n + "x" + "]" * n,
    "exp constant": lambda n: "exp(" * n + "1" + ")" * n,
    "log constant": lambda n: "log(" * n + "10" + ")" * n,
    "nested pow": lambda n: "(" * n + "x" + "**2)" * n,
}
deep = st.tuples(st.sampled_from(sorted(NESTINGS)), st.integers(min_value=1, max_value=3000)).map(
    lambda t: (NESTINGS[t[0]](t[1]), ("x",)))


def check_formula(case) -> None:
    """Accepted: symbols declared, compiles, float64 (n,) at sample points. Refused: one-line FormulaError."""
    text, names = case
    with sandbox():
        try:
            expr = parse_formula(text, names)
        except FormulaError as e:
            assert_one_line(e)
            return
        assert {str(s) for s in expr.free_symbols} <= set(names)
        try:
            fn = compile_formula(expr, names)
        except FormulaError as e:
            assert_one_line(e)
            return
        x = np.random.default_rng(0).uniform(0.1, 2.0, (4, len(names)))
        y = np.asarray(fn(x))
        assert y.shape == (4,) and y.dtype == np.float64, (text, y.shape, y.dtype)


MODEL = {"kind": "mlp", "depth": 2, "width": 4, "activation": "tanh"}


def check_formula_config(case) -> None:
    """Through a config: accepted, or a one-line ConfigError at target.formula / target.variables."""
    text, names = case
    data = {"name": "fuzz", "target": {"formula": text, "variables": {n: [-1.0, 1.0] for n in names}},
            "model": MODEL, "train": [{"kind": "adam", "lr": 1e-3, "steps": 10}]}
    with sandbox():
        try:
            cfg = build_config(data)
        except ConfigError as e:
            assert_one_line(e, "target.formula", "target.variables", "target")
            return
        assert cfg.target.formula == text


# Examples the fuzzing found, kept as regressions: hangs in sympy's constructors on nested constants (each
# took from 10 s to minutes before formula.MAX_NESTING and the unevaluated constant powers).
REGRESSIONS = [("sin(1+" * 100 + "0.5" + ")" * 100, ("x",)),
               ("**".join(["0.5"] * 60), ("x",)),
               ("(" * 7 + "1.1" + "**2.3)" * 7, ("x",)),
               ("**".join(["sqrt(2)"] * 200), ())]

test_formula_tokens, test_formula_tokens_slow = fuzz_pair(check_formula, token_strings, 250, REGRESSIONS)
test_formula_trees, test_formula_trees_slow = fuzz_pair(check_formula, trees, 250, REGRESSIONS)
test_formula_deep, test_formula_deep_slow = fuzz_pair(check_formula, deep, 100)
test_formula_config, test_formula_config_slow = fuzz_pair(check_formula_config, st.one_of(token_strings, trees), 150)


def test_constant_power_towers_are_quick_and_exact() -> None:
    """Regression: ((1.1**2.3)**2.3)**... is kept as written (sympy multiplied out the exponents, minutes of
    big-integer powers 7 deep; the hard limit of the sandbox catches a return of that), and it folds to the
    double nearest its value."""
    depth = 7
    with sandbox():
        expr = parse_formula("(" * depth + "1.1" + "**2.3)" * depth, ("x",))
    value = float(np.asarray(compile_formula(expr, ("x",))(np.zeros((1, 1))))[0])

    with mpmath.workdps(50):
        exact = mpmath.mpf("1.1") ** (mpmath.mpf("2.3") ** depth)
    assert value == float(exact)


def test_deep_nesting_is_refused_in_one_line() -> None:
    """Regression: calls and powers more than MAX_NESTING deep are refused before sympy sees them."""

    parse_formula("sin(1+" * MAX_NESTING + "0.5" + ")" * MAX_NESTING, ("x",))
    with pytest.raises(FormulaError, match=f"more than {MAX_NESTING} deep") as e:
        parse_formula("sin(1+" * (MAX_NESTING + 1) + "0.5" + ")" * (MAX_NESTING + 1), ("x",))
    assert_one_line(e.value)
