"""Restricted formula language: text → sympy expression → jittable float64 function.

Formulas come from configs and data files, which are untrusted, so a formula
is never evaluated as Python: no ``eval``/``exec``, no ``sympy.sympify`` or
``parse_expr`` (both ``eval``), no ``lambdify`` (it ``exec``\\s generated
code).  Text is parsed with ``ast.parse(text, mode="eval")`` -- which only
builds a syntax tree -- and that tree is walked against a whitelist.

Grammar (Python expression syntax, restricted)::

    expr     := number | name | expr OP expr | ("+" | "-") expr
              | FUNC "(" expr ")" | "(" expr ")"
    OP       := "+" | "-" | "*" | "/" | "**"
    number   := integer or decimal literal (e.g. 3, 0.5, 1e-3); no complex, no bool
    name     := a declared variable, or a constant: pi, E, e
                (a declared variable shadows a constant of the same name)
    FUNC     := sqrt exp log ln sin cos tan arcsin asin arccos acos arctan atan
                sinh cosh tanh arcsinh asinh arccosh acosh arctanh atanh abs
                -- one positional argument each; log and ln are the natural log

Everything else -- attributes, subscripts, calls to anything not listed,
keyword arguments, comparisons, strings, lambdas, ``^`` -- is a
:class:`FormulaError` whose one-line message names the offending token.

:func:`compile_formula` turns the sympy expression into a function of
``x`` with shape ``(n, d)`` returning shape ``(n,)``, by walking the sympy
tree once into nested closures over ``jax.numpy`` operations.
"""

from __future__ import annotations

import ast
import functools
import keyword
import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import sympy

__all__ = ["FormulaError", "FUNCTIONS", "CONSTANTS", "parse_formula", "compile_formula"]


class FormulaError(ValueError):
    """A formula that is not in the restricted grammar, or cannot be compiled."""


# name in formula text -> sympy function
FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "sqrt": sympy.sqrt,
    "exp": sympy.exp,
    "log": sympy.log,
    "ln": sympy.log,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "arcsin": sympy.asin,
    "asin": sympy.asin,
    "arccos": sympy.acos,
    "acos": sympy.acos,
    "arctan": sympy.atan,
    "atan": sympy.atan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "arcsinh": sympy.asinh,
    "asinh": sympy.asinh,
    "arccosh": sympy.acosh,
    "acosh": sympy.acosh,
    "arctanh": sympy.atanh,
    "atanh": sympy.atanh,
    "abs": sympy.Abs,
}

CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "E": sympy.E, "e": sympy.E}

# Bounds that keep sympy's exact arithmetic cheap on hostile input ("9**9**9"
# would otherwise build an integer with ~370 million digits).
MAX_FORMULA_CHARS = 2000
MAX_LITERAL_DIGITS = 100
MAX_CONSTANT_LOG10 = 400.0
# Calls and powers inside calls and powers: the Feynman equations nest 3 deep. sympy's constructors
# re-evaluate a whole constant argument at every level, so sin(1+sin(1+...)) took ~10 s 100 deep and
# 0.5**0.5**... minutes 60 deep, well within the 2000 characters.
MAX_NESTING = 20

_BINOPS = {
    ast.Add: ("+", lambda a, b: a + b),
    ast.Sub: ("-", lambda a, b: a - b),
    ast.Mult: ("*", lambda a, b: a * b),
    ast.Div: ("/", lambda a, b: a / b),
    ast.Pow: ("**", lambda a, b: a**b),
}
_BAD_OPS = {
    ast.BitXor: "'^' (use '**' for powers)",
    ast.FloorDiv: "'//'",
    ast.Mod: "'%'",
    ast.MatMult: "'@'",
    ast.BitAnd: "'&'",
    ast.BitOr: "'|'",
    ast.LShift: "'<<'",
    ast.RShift: "'>>'",
}
# Friendly names for the node types people are most likely to try.
_NODE_NAMES = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscript",
    ast.Lambda: "lambda",
    ast.Compare: "comparison",
    ast.BoolOp: "boolean operator",
    ast.IfExp: "conditional expression",
    ast.NamedExpr: "assignment expression",
    ast.JoinedStr: "f-string",
    ast.List: "list",
    ast.Tuple: "tuple",
    ast.Dict: "dict",
    ast.Set: "set",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "generator expression",
    ast.Starred: "starred expression",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slice",
}


# ---------------------------------------------------------------------------
# Constant subexpressions, evaluated in mpmath: to check them while parsing
# and to fold them into correctly rounded doubles when compiling.

_MP_FUNCTIONS: dict[type, Callable] = {
    sympy.exp: mpmath.exp,
    sympy.log: mpmath.log,
    sympy.sin: mpmath.sin,
    sympy.cos: mpmath.cos,
    sympy.tan: mpmath.tan,
    sympy.asin: mpmath.asin,
    sympy.acos: mpmath.acos,
    sympy.atan: mpmath.atan,
    sympy.sinh: mpmath.sinh,
    sympy.cosh: mpmath.cosh,
    sympy.tanh: mpmath.tanh,
    sympy.asinh: mpmath.asinh,
    sympy.acosh: mpmath.acosh,
    sympy.atanh: mpmath.atanh,
    sympy.Abs: abs,
}



def _ieee(g: Callable, v: float) -> float:
    with np.errstate(all="ignore"):
        return float(g(np.float64(v)))


# Only for infinite or saturated arguments, where IEEE semantics are what we want.
_FLOAT_FUNCTIONS: dict[type, Callable[[float], float]] = {
    f: functools.partial(_ieee, getattr(np, name))
    for f, name in [(sympy.exp, "exp"), (sympy.log, "log"), (sympy.sin, "sin"), (sympy.cos, "cos"),
                    (sympy.tan, "tan"), (sympy.asin, "arcsin"), (sympy.acos, "arccos"), (sympy.atan, "arctan"),
                    (sympy.sinh, "sinh"), (sympy.cosh, "cosh"), (sympy.tanh, "tanh"), (sympy.asinh, "arcsinh"),
                    (sympy.acosh, "arccosh"), (sympy.atanh, "arctanh"), (sympy.Abs, "abs")]
}


_HUGE = 2000  # |log| beyond which a constant is 0 or inf in float64 anyway


def _nonreal(expr) -> FormulaError:
    return FormulaError(f"constant {expr} is not a real number")


def _saturate(expr, saturated: list | None, value):
    if saturated is not None:
        saturated.append(expr)
    return value


def _mp_constant(expr: sympy.Expr, saturated: list | None = None) -> mpmath.mpf:
    """A constant subtree at the current mpmath precision, guarded against absurd magnitudes.

    Not ``sympy.N``: that tries to honour ``exp(exp(exp(exp(100))))`` and
    never returns.  Here anything past ``exp(±2000)`` saturates to ``inf``/``0``
    as it would in float64 (noted in ``saturated`` when given), and trig
    arguments are recomputed with enough digits to reduce them mod 2π.
    """
    if expr.is_Rational:
        return mpmath.mpf(int(expr.p)) / int(expr.q)
    if expr is sympy.pi:
        return +mpmath.pi
    if expr is sympy.E:
        return +mpmath.e
    if not expr.args:
        raise FormulaError(f"cannot evaluate constant {expr}")
    args = [_mp_constant(a, saturated) for a in expr.args]
    if expr.is_Add:
        return mpmath.fsum(args)
    if expr.is_Mul:
        return mpmath.fprod(args)
    if expr.is_Pow:
        b, e = args
        if b < 0 and not mpmath.isint(e):
            raise _nonreal(expr)
        if b != 0 and mpmath.isfinite(b) and mpmath.isfinite(e):
            size = e * mpmath.log(abs(b))
            if abs(size) > _HUGE:
                sign = -1 if b < 0 and int(e) % 2 else 1
                return _saturate(expr, saturated, sign * mpmath.inf if size > 0 else mpmath.mpf(0))
        return mpmath.power(b, e)
    f, a = type(expr), args[0]
    if f not in _MP_FUNCTIONS or len(args) != 1:
        raise FormulaError(f"cannot evaluate constant {expr}")
    if not mpmath.isfinite(a):
        return mpmath.mpf(_FLOAT_FUNCTIONS[f](float(a)))  # inf/nan follow IEEE rules
    if f in (sympy.exp, sympy.sinh, sympy.cosh, sympy.tanh) and abs(a) > _HUGE:
        return _saturate(expr, saturated, mpmath.mpf(_FLOAT_FUNCTIONS[f](float(a))))
    if f in (sympy.sin, sympy.cos, sympy.tan) and abs(a) > 1e6:
        if abs(a) > mpmath.mpf(10) ** MAX_CONSTANT_LOG10:
            raise FormulaError(f"constant {expr} has an argument too large to reduce")
        # The argument to about 1 absolute ulp of the target precision.
        with mpmath.workdps(mpmath.mp.dps + int(mpmath.log10(abs(a))) + 5):
            return +_MP_FUNCTIONS[f](_mp_constant(expr.args[0], saturated))
    domain_ok = {
        sympy.log: lambda v: v > 0,
        sympy.asin: lambda v: -1 <= v <= 1,
        sympy.acos: lambda v: -1 <= v <= 1,
        sympy.acosh: lambda v: v >= 1,
        sympy.atanh: lambda v: -1 < v < 1,
    }.get(f, lambda v: True)
    if not domain_ok(a):
        raise _nonreal(expr)
    return _MP_FUNCTIONS[f](a)


def _constant_value(expr: sympy.Expr) -> float:
    """The double nearest to a constant subexpression (evaluated at 40 digits, then rounded once)."""
    with mpmath.workdps(40):
        value = _mp_constant(expr)
        if isinstance(value, mpmath.mpc):
            raise _nonreal(expr)
        return float(value)  # mpf rounds to nearest


# ---------------------------------------------------------------------------
# Parsing: Python AST -> sympy, against the whitelist.

def _check_variables(variables: Sequence[str]) -> tuple[str, ...]:
    names = tuple(variables)
    for name in names:
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise FormulaError(f"invalid variable name {name!r}: must be a Python identifier")
        if name in FUNCTIONS:
            raise FormulaError(f"invalid variable name {name!r}: it is a function name")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise FormulaError(f"duplicate variable names: {', '.join(dupes)}")
    return names


def _numeric_log10(value: sympy.Expr) -> float:
    """log10 |value| for a real number, computed without building the number."""
    if value == 0:
        return 0.0
    p, q = sympy.fraction(sympy.Abs(value))
    return math.log10(int(p)) - math.log10(int(q))


class _Builder:
    """One pass over a Python AST, building the sympy expression bottom-up."""

    def __init__(self, text: str, variables: tuple[str, ...]):
        self.text = text
        self.variables = variables
        self.symbols = {name: sympy.Symbol(name) for name in variables}

    def fail(self, what: str) -> FormulaError:
        return FormulaError(f"{what} in formula {self.text!r}")

    def build(self, node: ast.AST) -> sympy.Expr:
        expr = self._build(node)
        if not expr.free_symbols and not expr.is_Rational:
            self.check_constant(node, expr)
        return expr

    def check_constant(self, node: ast.AST, expr: sympy.Expr) -> None:
        # Every constant subtree is checked before sympy combines it further:
        # sympy's constructors query assumptions by numeric evaluation, which
        # overflows or crawls on hostile constants such as exp(exp(exp(100))).
        where = self.segment(node)
        if expr.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan):
            raise self.fail(f"constant {where!r} is undefined or infinite (simplifies to {expr})")
        if expr.has(sympy.I):
            raise self.fail(f"constant {where!r} is not a real number (simplifies to {expr})")
        saturated: list[sympy.Expr] = []
        try:
            with mpmath.workdps(15):
                value = _mp_constant(expr, saturated)
        except FormulaError as e:
            raise self.fail(str(e)) from None
        huge = value != 0 and abs(mpmath.log10(abs(value))) > MAX_CONSTANT_LOG10
        if saturated or not mpmath.isfinite(value) or huge:
            raise self.fail(f"constant {where!r} is out of range (magnitude beyond 1e±{MAX_CONSTANT_LOG10:g})")

    def _build(self, node: ast.AST) -> sympy.Expr:
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.build(node.operand)
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand)
            op = {ast.Not: "'not'", ast.Invert: "'~'"}.get(type(node.op), type(node.op).__name__)
            raise self.fail(f"operator {op} not allowed")
        if isinstance(node, ast.Call):
            return self.call(node)
        kind = _NODE_NAMES.get(type(node), type(node).__name__)
        raise self.fail(f"{kind} {self.segment(node)!r} not allowed")

    def segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or type(node).__name__

    def number(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        # bool is an int subclass; True/False are names, not numbers, here.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"literal {self.segment(node)!r} not allowed (only real numbers)")
        if isinstance(value, int):
            if len(str(abs(value))) > MAX_LITERAL_DIGITS:
                raise self.fail(f"integer literal with more than {MAX_LITERAL_DIGITS} digits")
            return sympy.Integer(value)
        if not math.isfinite(value):
            raise self.fail(f"literal {self.segment(node)!r} is not finite")
        # The shortest repr of the double, read as an exact decimal: "0.1" means
        # 1/10, so high-precision checks see the number the author wrote.
        return sympy.Rational(repr(value))

    def name(self, node: ast.Name) -> sympy.Expr:
        if node.id in self.symbols:
            return self.symbols[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in FUNCTIONS:
            raise self.fail(f"function {node.id!r} used without a call")
        declared = ", ".join(self.variables) or "(none)"
        raise self.fail(f"unknown variable {node.id!r}; declared: {declared}")

    def binop(self, node: ast.BinOp) -> sympy.Expr:
        if type(node.op) in _BAD_OPS:
            raise self.fail(f"operator {_BAD_OPS[type(node.op)]} not allowed")
        if type(node.op) not in _BINOPS:
            raise self.fail(f"operator {type(node.op).__name__} not allowed")
        left, right = self.build(node.left), self.build(node.right)
        if isinstance(node.op, ast.Pow) and left.is_Rational and right.is_Rational:
            # Exact constant powers: refuse ones whose result is absurdly large/small.
            size = abs(float(right)) * abs(_numeric_log10(left))
            if size > MAX_CONSTANT_LOG10:
                raise self.fail(f"constant power {self.segment(node)!r} is out of range")
        if isinstance(node.op, ast.Pow) and not (left.free_symbols or right.free_symbols) \
                and not (left.is_Rational and right.is_Integer):
            # Kept as written (check_constant and the compiler evaluate it in mpmath): sympy would multiply
            # the exponents of (a**b)**c exactly and raise a to their numerator, and ((1.1**2.3)**2.3)**...
            # took 30 s six deep, minutes seven deep.
            return sympy.Pow(left, right, evaluate=False)
        return _BINOPS[type(node.op)][1](left, right)

    def call(self, node: ast.Call) -> sympy.Expr:
        if not isinstance(node.func, ast.Name):
            kind = _NODE_NAMES.get(type(node.func), "expression")
            raise self.fail(f"call of {kind} {self.segment(node.func)!r} not allowed (only known functions)")
        fname = node.func.id
        if fname not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.fail(f"unknown function {fname!r}; known: {known}")
        if node.keywords:
            kw = node.keywords[0].arg or "**"
            raise self.fail(f"keyword argument {kw!r} to {fname}() not allowed")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(f"starred argument to {fname}() not allowed")
        if len(node.args) != 1:
            raise self.fail(f"{fname}() takes exactly one argument, got {len(node.args)}")
        return FUNCTIONS[fname](self.build(node.args[0]))


def _nesting(tree: ast.AST) -> int:
    """How many calls and powers deep the tree nests (walked without recursion: the tree may be deep)."""
    deepest, stack = 0, [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        depth += isinstance(node, ast.Call) or (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow))
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in ast.iter_child_nodes(node))
    return deepest


def parse_formula(text: str, variables: Sequence[str]) -> sympy.Expr:
    """Parse ``text`` in the restricted grammar into a sympy expression.

    Parameters
    ----------
    text : the formula, e.g. ``"exp(-(theta/sigma)**2/2)/(sqrt(2*pi)*sigma)"``.
    variables : the names the formula may use, in input order.

    Returns
    -------
    sympy expression whose free symbols are ``sympy.Symbol(name)`` (no
    assumptions) for names in ``variables``.

    Raises
    ------
    FormulaError : on anything outside the grammar, with a one-line message.
    """
    if not isinstance(text, str):
        raise FormulaError(f"formula must be a string, got {type(text).__name__}")
    names = _check_variables(variables)
    if not text.strip():
        raise FormulaError("empty formula")
    if len(text) > MAX_FORMULA_CHARS:
        raise FormulaError(f"formula longer than {MAX_FORMULA_CHARS} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise FormulaError(f"syntax error in formula {text!r}: {e.msg} (column {e.offset})") from None
    except (RecursionError, MemoryError, ValueError):
        raise FormulaError(f"formula {text[:40]!r}... is nested too deeply or malformed") from None
    if _nesting(tree) > MAX_NESTING:
        raise FormulaError(f"formula {text[:40]!r}... nests functions and powers more than {MAX_NESTING} deep")
    builder = _Builder(text.strip(), names)
    try:
        expr = builder.build(tree.body)
    except RecursionError:
        raise FormulaError(f"formula {text[:40]!r}... is nested too deeply") from None
    except (OverflowError, ZeroDivisionError) as e:  # from sympy's numeric assumption checks
        raise FormulaError(f"formula {text!r} has a constant out of range ({e})") from None
    if expr.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan):
        raise FormulaError(f"formula {text!r} is undefined or infinite: simplifies to {expr}")
    if expr.has(sympy.I):
        raise FormulaError(f"formula {text!r} is not real: simplifies to {expr}")
    return expr


# ---------------------------------------------------------------------------
# Compilation: sympy tree -> closures over jnp ops.
# A node compiles to a function cols -> array, where cols is the tuple of input
# columns, each of shape (n,).

_Node = Callable[[tuple[jax.Array, ...]], jax.Array]

_JNP_FUNCTIONS: dict[type, Callable[[jax.Array], jax.Array]] = {
    sympy.exp: jnp.exp,
    sympy.log: jnp.log,
    sympy.sin: jnp.sin,
    sympy.cos: jnp.cos,
    sympy.tan: jnp.tan,
    sympy.asin: jnp.arcsin,
    sympy.acos: jnp.arccos,
    sympy.atan: jnp.arctan,
    sympy.sinh: jnp.sinh,
    sympy.cosh: jnp.cosh,
    sympy.tanh: jnp.tanh,
    sympy.asinh: jnp.arcsinh,
    sympy.acosh: jnp.arccosh,
    sympy.atanh: jnp.arctanh,
    sympy.Abs: jnp.abs,
}

def _constant(value: float) -> _Node:
    c = jnp.asarray(value, dtype=jnp.float64)
    return lambda cols: c


def _compile(expr: sympy.Expr, index: dict[sympy.Symbol, int]) -> _Node:
    if not expr.free_symbols:
        # Fold whole constant subtrees (sqrt(2*pi), 1/(4*pi), ...) into one
        # correctly rounded double instead of rounding each step in float64.
        return _constant(_constant_value(expr))
    if expr.is_Symbol:
        i = index[expr]
        return lambda cols: cols[i]
    if expr.is_Add:
        return _compile_add(expr, index)
    if expr.is_Mul:
        return _compile_mul(expr, index)
    if expr.is_Pow:
        return _compile_pow(expr.base, expr.exp, index)
    if isinstance(expr, sympy.log) and len(expr.args) == 1 and expr.args[0].is_Add:
        one, rest = expr.args[0].as_independent(*expr.free_symbols)
        if one == 1:
            # log(1 + u) as log1p(u): accurate when u is small.
            inner = _compile(rest, index)
            return lambda cols: jnp.log1p(inner(cols))
    if type(expr) in _JNP_FUNCTIONS and len(expr.args) == 1:
        f, arg = _JNP_FUNCTIONS[type(expr)], _compile(expr.args[0], index)
        return lambda cols: f(arg(cols))
    raise FormulaError(f"cannot compile {type(expr).__name__} in {expr}")


def _compile_add(expr: sympy.Add, index) -> _Node:
    const, terms = expr.as_independent(*expr.free_symbols, as_Add=True)
    terms = list(sympy.Add.make_args(terms))
    parts: list[_Node] = []
    for t in terms if const != 0 else ():
        # c*exp(u) - c as c*expm1(u): the subtraction would cancel for small u
        # (III.4.32's Bose-Einstein denominator has u down to ~0.006).  sympy
        # distributes numbers, so 2*(exp(u) - 1) arrives as 2*exp(u) - 2.
        coeff, rest = t.as_coeff_Mul()
        if isinstance(rest, sympy.exp) and coeff == -const:
            terms.remove(t)
            c, inner = _constant_value(coeff), _compile(rest.args[0], index)
            parts.append(lambda cols: c * jnp.expm1(inner(cols)))
            break
    else:
        if const != 0:
            parts.append(_constant(_constant_value(const)))
    parts.extend(_compile(t, index) for t in terms)

    def add(cols):
        total = parts[0](cols)
        for p in parts[1:]:
            total = total + p(cols)
        return total

    return add


def _compile_mul(expr: sympy.Mul, index) -> _Node:
    const, rest = expr.as_independent(*expr.free_symbols, as_Add=False)
    num: list[_Node] = []
    den: list[_Node] = []
    for factor in sympy.Mul.make_args(rest):
        # Negative powers go to one denominator: a/(b*c) rounds less than a*b⁻¹*c⁻¹.
        if factor.is_Pow and factor.exp.is_Number and factor.exp < 0:
            den.append(_compile_pow(factor.base, -factor.exp, index))
        else:
            num.append(_compile(factor, index))
    c = _constant_value(const)
    if c != 1.0:
        num.insert(0, _constant(c))
    if not num:
        num.append(_constant(1.0))

    def product(nodes, cols):
        out = nodes[0](cols)
        for node in nodes[1:]:
            out = out * node(cols)
        return out

    if not den:
        return lambda cols: product(num, cols)
    return lambda cols: product(num, cols) / product(den, cols)


def _compile_pow(base: sympy.Expr, exp: sympy.Expr, index) -> _Node:
    b = _compile(base, index)
    if exp == 1:
        return b
    if exp.is_Integer and abs(int(exp)) <= 64:
        n = int(exp)
        # integer_pow multiplies (exact-ish, no log/exp), and handles negative bases.
        return lambda cols: jax.lax.integer_pow(b(cols), n)
    if exp == sympy.Rational(1, 2):
        return lambda cols: jnp.sqrt(b(cols))
    if exp == sympy.Rational(-1, 2):
        return lambda cols: 1.0 / jnp.sqrt(b(cols))
    if exp.is_Rational and exp.q == 2 and abs(exp.p) <= 129:
        # b**(k/2) = sqrt(b)**k: avoids pow's log/exp rounding.
        k = int(exp.p)
        return lambda cols: jax.lax.integer_pow(jnp.sqrt(b(cols)), k)
    e = _compile(exp, index)
    return lambda cols: jnp.power(b(cols), e(cols))


def compile_formula(expr: sympy.Expr, variables: Sequence[str]) -> Callable[[jax.Array], jax.Array]:
    """Compile a sympy expression into a pure, jittable float64 function.

    Parameters
    ----------
    expr : expression whose free symbols are among ``Symbol(v)`` for ``v`` in
        ``variables`` (as built by :func:`parse_formula`).
    variables : input order: column ``j`` of ``x`` is ``variables[j]``.

    Returns
    -------
    ``fn(x)`` with ``x`` of shape ``(n, d)``, ``d = len(variables)``, returning
    shape ``(n,)`` float64 -- constant expressions are broadcast to ``(n,)``.
    """
    names = _check_variables(variables)
    index = {sympy.Symbol(name): j for j, name in enumerate(names)}
    unknown = sorted(str(s) for s in expr.free_symbols if s not in index)
    if unknown:
        raise FormulaError(f"unknown variable(s) {', '.join(unknown)}; declared: {', '.join(names) or '(none)'}")
    root = _compile(expr, index)
    d = len(names)

    def fn(x: jax.Array) -> jax.Array:
        x = jnp.asarray(x, dtype=jnp.float64)
        if x.ndim != 2 or x.shape[1] != d:
            raise ValueError(f"expected x of shape (n, {d}), got {x.shape}")
        cols = tuple(x[:, j] for j in range(d))
        return jnp.broadcast_to(root(cols), x.shape[:1]).astype(jnp.float64)

    return fn
