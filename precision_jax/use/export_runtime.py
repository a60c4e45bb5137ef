"""Evaluate an exported prec model with numpy alone (scipy only for simplex parts in d ≥ 2).

This module is the runtime of ``prec export``: ``--to python`` copies its source,
verbatim, into the standalone ``.py`` file beside the model's arrays, and ``--to npz``
writes the same arrays to an ``.npz`` that :func:`load_npz` reads back. It must
therefore import nothing but numpy (and scipy inside the simplex branch), and it
is tested against the jax evaluation of the same runs.

The model (format ``prec-export`` version :data:`FORMAT_VERSION`)
-----------------------------------------------------------------
    F(x) = Σ_k c_k · f_k(z),    z = (x − input_shift) · (1 / input_scale)   (z = x without standardization)

Arrays, by name (the ``.npz`` keys; the ``.py`` file embeds the same dictionary):

    format              ()      str   "prec-export"
    format_version      ()      int64 FORMAT_VERSION
    variables           (d,)    str   input names, in column order
    output              ()      str   the output's name ("prediction" when the target has none)
    lows, highs         (d,)    f8    the box the run trained on (interpolants give NaN outside it)
    input_shift         (d,)    f8  \\ absent when the run did not standardize
    input_scale         (d,)    f8  /
    kinds               (K,)    str   each part's kind: mlp | modular | simplex | spline | chebyshev
    coefficients        (K,)    f8    c_k
    part_<k>/...                      part k's arrays:
      mlp        activation () str; layers () int64 L; W_<l> (w_l, w_{l+1}), b_<l> (w_{l+1},) for l < L
                 f(z) = A_{L-1}(σ(…σ(A_0(z)))),  A_l(h) = h W_l + b_l
      modular    activation () str; modules (M,) str names; inputs_<j> (a_j,) str what module j reads
                 (variables or module names); order (M,) int64 evaluation order; output () str;
                 m<j>/layers, m<j>/W_<l>, m<j>/b_<l> module j's dense net as for mlp
      simplex    x (D, d), y (D,): the training points; piecewise-linear on their Delaunay triangulation
                 (scipy's qhull, default options), NaN outside the hull; d = 1: np.interp on sorted x
      spline     lows, highs (d,); order (); points_per_axis ();
                 d = 1: t, c (a B-spline of degree order, NaN outside [t_order, t_-order-1]);
                 d ≥ 2, order 1: values (p,)*d on the grid linspace(lows, highs, p) per axis (multilinear);
                 d ≥ 2, order 3/5: t_<axis>, c (p,)*d (a tensor-product B-spline)
      chebyshev  coefficients (n+1,)*d; lows, highs: Σ c[i,j,…] T_i(t_0) T_j(t_1)…, t = (x − mid)/half

Float arithmetic follows jax on CPU (XLA) and scipy operation by operation, so
predictions agree with ``prec predict`` bit for bit in the cases the tests
check and within a few ulps otherwise: tanh and exp (in sigmoid, silu,
softplus) are XLA's own rational approximations with their fused multiply-adds,
emulated exactly (:func:`fma`), with denormals flushed to zero as XLA does; a
layer with one input is one FMA per weight, as XLA fuses it; the output layer
is XLA's matrix–vector product (four FMA lanes, :func:`_row_gemv`); hidden
layers use numpy's ``@`` (sequential FMAs in OpenBLAS, as in XLA — another BLAS
may differ in the last bit). Interpolants repeat scipy's formulas (de Boor's
recursion, the multilinear weights, Delaunay with the same barycentric
transforms) and numpy's ``chebval``. Set ``XLA_EXACT = False`` for numpy's own
functions: faster, and within ~10 ulps of jax.
"""

from __future__ import annotations

import math

import numpy as np

FORMAT = "prec-export"
FORMAT_VERSION = 1
XLA_EXACT = True  # reproduce XLA's CPU tanh/exp bit for bit (slower); False: numpy's own functions

_F8 = np.float64


def _bits(hex_text: str) -> float:
    return float(np.frombuffer(bytes.fromhex(hex_text)[::-1], "<f8")[0])


# --------------------------------------------------------------------------- exact fused multiply-add

_SPLIT = 134217729.0  # 2^27 + 1 (Veltkamp)


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a):
    c = _SPLIT * a
    hi = c - (c - a)
    return hi, a - hi


def fma(a, b, c):
    """round(a·b + c) with one rounding, as the FMA instruction gives it, in plain numpy.

    Boldo & Melquiond (2008): exact product (Dekker), exact sum (Knuth), the low
    parts added with rounding to odd, one final rounding to nearest. Exact for
    finite arguments whose product neither overflows nor falls below ~1e-290.
    """
    a, b, c = np.broadcast_arrays(np.asarray(a, _F8), np.asarray(b, _F8), np.asarray(c, _F8))
    with np.errstate(over="ignore", invalid="ignore"):
        uh = a * b
        ah, al = _split(a)
        bh, bl = _split(b)
        ul = ((ah * bh - uh) + ah * bl + al * bh) + al * bl
        th, tl = _two_sum(c, uh)
        v, err = _two_sum(tl, ul)
        even = (v.view(np.int64) & 1) == 0
        v = np.where((err != 0) & even, np.nextafter(v, np.where(err > 0, np.inf, -np.inf)), v)
        out = th + v
        plain = a * b + c
    return np.where(np.isfinite(out) & np.isfinite(uh), out, plain)


# --------------------------------------------------------------------------- XLA's CPU elementwise functions

_TANH_CLAMP = _bits("4031B6D58F246197")
_TANH_P = [_bits(h) for h in ("3B3F9F82E5D782DF", "3C2C3C836C04B4C8", "3CEC3379F905E662", "3D929AFF6C8EDD96",
                              "3E2525A389DCE7C2", "3EA708819BE51CD9", "3F18996F4026A7FA", "3F787F80B957ED00",
                              "3FC36FBA9B450E5A")]
_TANH_Q = [_bits(h) for h in ("3BBE8630CF903250", "3C90AABCA9A5FEA0", "3D4232981AA2BBA8", "3DDEE2F015EA8065",
                              "3E681F1947C52304", "3EE26C82AB46D140", "3F4B2E7C4D488C04", "3FA1998830265B50",
                              "3FDF0D32A2F7DC79")]


def xla_tanh(x):
    """XLA's float64 tanh on CPU: x·P(x²)/Q(x²) on x clamped to ±17.7, ±1 for |x| ≥ 20."""
    x = np.asarray(x, _F8)
    if not XLA_EXACT:
        return np.tanh(x)
    c = np.where(x < -_TANH_CLAMP, -_TANH_CLAMP, x)
    c = np.where(c > _TANH_CLAMP, _TANH_CLAMP, c)
    s = c * c
    p = np.full_like(s, _TANH_P[0])
    for a in _TANH_P[1:]:
        p = fma(s, p, a)
    p = c * fma(s, p, 1.0)
    q = np.full_like(s, _TANH_Q[0])
    for a in _TANH_Q[1:]:
        q = fma(s, q, a)
    q = fma(s, q, 1.0)
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(x) >= 20.0, np.copysign(1.0, x), p / q)


_EXP_LO, _EXP_HI = _bits("C086232BDD7ABCD2"), _bits("40862E42FEFA39EF")
_LOG2E = _bits("3FF71547652B82FE")
_LN2_HI, _LN2_LO = _bits("3FE62E4000000000"), _bits("3EB7F7D1CF79ABCA")
_EXP_P = (_bits("3F2089CDD5E44BE8"), _bits("3F9F06D10CCA2C7E"))
_EXP_Q = (_bits("3EC92EB6BC365FA0"), _bits("3F64AE39B508B6C0"), _bits("3FCD17099887E074"))
_ONE_BITS = 0x3FF0000000000000


def _xla_exp_core(x):
    """XLA's exp without its range masks: 1 + 2·g·P(g²)/(Q(g²) − g·P(g²)), scaled by 2^n in three steps."""
    xc = np.maximum(np.minimum(x, _EXP_HI), _EXP_LO)
    n = np.floor(fma(xc, _LOG2E, 0.5))
    g = fma(n, -_LN2_HI, xc)
    g = fma(n, -_LN2_LO, g)
    gg = g * g
    p = fma(fma(gg, _EXP_P[0], _EXP_P[1]), gg, 1.0) * g
    q = fma(fma(fma(gg, _EXP_Q[0], _EXP_Q[1]), gg, _EXP_Q[2]), gg, 2.0)
    e = fma(p / (q - p), 2.0, 1.0)
    ni = np.clip(np.nan_to_num(n, nan=0.0), -2099, 2099).astype(np.int64)
    b = ni >> 2
    m1 = ((b << 52) + _ONE_BITS).view(_F8)
    m2 = (((ni - 3 * b) << 52) + _ONE_BITS).view(_F8)
    with np.errstate(over="ignore", invalid="ignore"):
        return ((e * m1) * m1) * m1 * m2


def xla_sigmoid(x):
    """jax.nn.sigmoid (XLA logistic): 1 / (1 + exp(−x)), 1 above 708.4, 0 below −709.8."""
    x = np.asarray(x, _F8)
    if not XLA_EXACT:
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-x))
    with np.errstate(over="ignore", divide="ignore"):
        out = 1.0 / (_xla_exp_core(-x) + 1.0)
    out = np.where(x > -_EXP_LO, 1.0, out)
    return np.where(x < -_EXP_HI, 0.0, out)


_LOG1P_SMALL = _bits("3FDA827999FCEF32")  # √2 − 1
_LOG1P_Q = [_bits(h) for h in ("402E20359E903E37", "4054C30B52213498", "406BB86590FCFB56", "407351945DC908A5",
                               "406B0DB13E48E066", "404E0F304466448E")]
_LOG1P_P = [_bits(h) for h in ("3F07BC0962B395CA", "3FDFE818A0FE1A83", "401A509F46F4FA53", "403DE9738B8CB9C9",
                               "404E798EB86C3351", "404C8E7597479A10", "40340A202D99830A")]


def _libm_log(values):
    # XLA calls the C library's log; numpy's vectorized log may differ from it by an ulp.
    return np.array([math.log(v) if v > 0 else (-math.inf if v == 0 else math.nan) for v in values.ravel()],
                    _F8).reshape(values.shape)


def xla_softplus(x):
    """jax.nn.softplus = logaddexp(x, 0) = max(x, 0) + log1p(exp(−|x|)), XLA's exp and log1p."""
    x = np.asarray(x, _F8)
    if not XLA_EXACT:
        return np.logaddexp(x, 0.0)
    a = np.abs(x)
    u = np.where(a > -_EXP_LO, 0.0, _xla_exp_core(-a))
    small = np.abs(u) < _LOG1P_SMALL
    out = np.empty_like(u)
    if small.any():
        us = u[small]
        u2 = us * us
        q = np.ones_like(us)
        for c in _LOG1P_Q:
            q = fma(q, us, c)
        p = np.full_like(us, _LOG1P_P[0])
        for c in _LOG1P_P[1:]:
            p = fma(p, us, c)
        out[small] = us + fma(u2, -0.5, (us * u2) * (p / q))
    if (~small).any():
        out[~small] = _libm_log(u[~small] + 1.0)
    return np.where(np.isnan(x), x, np.maximum(x, 0.0) + out)


def _relu(x):
    return np.maximum(x, 0.0)


_TINY = np.finfo(_F8).tiny


def _flush(a):
    """XLA runs with denormals flushed to zero (FTZ/DAZ): subnormal values read and come out as ±0."""
    return np.where(np.abs(a) < _TINY, np.copysign(0.0, a), a) if XLA_EXACT else a


def _flushed(f):
    def activation(x):
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            return _flush(f(_flush(np.asarray(x, _F8))))
    activation.__name__ = getattr(f, "__name__", "activation")
    return activation


ACTIVATIONS = {name: _flushed(f) for name, f in {
    "relu": _relu,
    "tanh": xla_tanh,
    "sigmoid": xla_sigmoid,
    "softplus": xla_softplus,
    "silu": lambda x: x * _flush(xla_sigmoid(x)),
    "relu2": lambda x: _relu(x) * _relu(x),
    "relu3": lambda x: (_relu(x) * _relu(x)) * _relu(x),
}.items()}


# --------------------------------------------------------------------------- networks


def _row_gemv(h, v):
    """XLA's CPU matrix–vector product h @ v: four FMA lanes over k, a pairwise lane sum, a scalar tail.

    Rows go in tiles of 8; when 4 rows are left over, those 4 sum their lanes as (0+1)+(2+3) instead
    of (0+2)+(1+3). One row alone (k ≤ 32) is a plain sequence of FMAs. Measured on jaxlib 0.10.2.
    """
    n, k = h.shape
    if n == 1 and k <= 32:
        out = h[:, 0] * v[0]
        for i in range(1, k):
            out = fma(h[:, i], v[i], out)
        return out
    full = k - k % 4
    lanes = np.zeros((n, 4))
    for c in range(0, full, 4):
        lanes = fma(h[:, c:c + 4], v[c:c + 4], lanes)
    tail = np.zeros(n)
    for i in range(full, k):
        tail = fma(h[:, i], v[i], tail)
    out = ((lanes[:, 0] + lanes[:, 2]) + (lanes[:, 1] + lanes[:, 3])) + tail
    if n % 8 == 4:
        last = lanes[-4:]
        out[-4:] = ((last[:, 0] + last[:, 1]) + (last[:, 2] + last[:, 3])) + tail[-4:]
    return out


def _affine(h, w, b):
    """h W + b as XLA computes it on CPU for the shapes of these nets (ulp-level differences elsewhere)."""
    if not XLA_EXACT:
        return h @ w + b
    if w.shape[0] == 1:  # a dot over one input becomes a multiply, fused with the bias into one FMA
        return fma(h, w, b)
    if w.shape[1] == 1:  # the output layer: a matrix–vector product
        return (_row_gemv(h, w[:, 0]) + b[0])[:, None]
    return h @ w + b  # sequential FMAs over k, as XLA's and OpenBLAS's kernels compute these products


def dense_net(layers, z, activation):
    """A dense net: layers [(W, b), ...], z (n, w_0) → (n,)."""
    sigma = ACTIVATIONS[activation]
    h = z
    for w, b in layers[:-1]:
        h = sigma(_affine(h, w, b))
    w, b = layers[-1]
    return _affine(h, w, b)[:, 0]


def _layers(arrays, prefix):
    return [(arrays[f"{prefix}W_{i}"], arrays[f"{prefix}b_{i}"]) for i in range(int(arrays[f"{prefix}layers"]))]


def _mlp(arrays, z, variables):
    return dense_net(_layers(arrays, ""), z, str(arrays["activation"]))


def _modular(arrays, z, variables):
    names = [str(s) for s in np.atleast_1d(arrays["modules"])]
    column = {name: j for j, name in enumerate(variables)}
    values = {}
    for j in np.atleast_1d(arrays["order"]):
        j = int(j)
        inputs = [str(s) for s in np.atleast_1d(arrays[f"inputs_{j}"])]
        u = np.stack([values[name] if name in values else z[:, column[name]] for name in inputs], axis=1)
        values[names[j]] = dense_net(_layers(arrays, f"m{j}/"), u, str(arrays["activation"]))
    return values[str(arrays["output"])]


# --------------------------------------------------------------------------- interpolants


def _inside(z, lows, highs):
    return np.all((z >= lows) & (z <= highs), axis=1)


def _simplex(arrays, z, variables):
    x, y = np.asarray(arrays["x"], _F8), np.asarray(arrays["y"], _F8)
    if x.shape[1] == 1:
        order = np.argsort(x[:, 0], kind="stable")
        return np.interp(z[:, 0], x[order, 0], y[order], left=np.nan, right=np.nan)
    cached = _SIMPLEX_CACHE.get(id(arrays))
    if cached is None or cached[0] is not arrays:  # triangulate once per part (the cache holds the part alive)
        from scipy.interpolate import LinearNDInterpolator
        from scipy.spatial import Delaunay

        tri = Delaunay(x)
        _barycentric_transforms(tri)
        cached = _SIMPLEX_CACHE[id(arrays)] = (arrays, LinearNDInterpolator(tri, y, fill_value=np.nan))
    return np.asarray(cached[1](z), _F8).reshape(-1)


_SIMPLEX_CACHE: dict = {}


def _barycentric_transforms(tri) -> None:
    """Fill scipy's barycentric transforms with one batched inverse, exactly as prec does when it fits.

    prec precomputes them this way (scipy's own per-simplex LAPACK calls are slow
    on busy machines, and differ from these in the last bits); the same transforms
    give the same predictions bit for bit.
    """
    if getattr(tri, "_transform", 0) is not None:
        return
    pts = tri.points[tri.simplices]
    r_n = pts[:, -1, :]
    t = np.swapaxes(pts[:, :-1, :] - r_n[:, None, :], 1, 2)
    try:
        tinv = np.linalg.inv(t)
    except np.linalg.LinAlgError:
        return
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        rcond = 1.0 / (np.abs(t).sum(axis=1).max(axis=1) * np.abs(tinv).sum(axis=1).max(axis=1))
    bad = ~(rcond >= np.finfo(_F8).eps)
    transform = np.empty((t.shape[0], t.shape[1] + 1, t.shape[1]))
    transform[:, :-1, :] = tinv
    transform[:, -1, :] = r_n
    transform[bad] = np.nan
    tri._transform = transform


def _find_interval(t, k, x):
    """Knot span l with t[l] ≤ x < t[l+1], k ≤ l ≤ n−1 (x = t[n] gives n−1); −1 outside [t[k], t[n]] or NaN."""
    n = t.size - k - 1
    inner = t[k + 1:n]  # interior knots
    span = k + np.searchsorted(inner, x, side="right")
    return np.where((x >= t[k]) & (x <= t[n]), span, -1)


def _bspline_basis(t, k, x, span):
    """The k+1 non-zero B-splines at x on knot span ``span``, scipy's _deBoor_D operation for operation: (n, k+1)."""
    h = np.zeros((x.size, k + 1))
    h[:, 0] = 1.0
    for j in range(1, k + 1):
        hh = h[:, :j].copy()
        h[:, 0] = 0.0
        for n in range(1, j + 1):
            xb = t[span + n]
            xa = t[span + n - j]
            same = xb == xa
            with np.errstate(divide="ignore", invalid="ignore"):
                w = hh[:, n - 1] / (xb - xa)
            h[:, n - 1] = np.where(same, h[:, n - 1], h[:, n - 1] + w * (xb - x))
            h[:, n] = np.where(same, 0.0, w * (x - xa))
    return h


def _spline(arrays, z, variables):
    lows, highs = np.asarray(arrays["lows"], _F8), np.asarray(arrays["highs"], _F8)
    d, k = lows.size, int(arrays["order"])
    out = np.full(z.shape[0], np.nan)
    inside = _inside(z, lows, highs)
    zi = z[inside]
    if d == 1:
        t, c = np.asarray(arrays["t"], _F8), np.asarray(arrays["c"], _F8)
        x = zi[:, 0]
        span = _find_interval(t, k, x)
        ok = span >= 0
        span = np.where(ok, span, k)
        b = _bspline_basis(t, k, x, span)
        acc = np.zeros(x.size)
        for a in range(k + 1):
            acc = acc + c[span + a - k] * b[:, a]
        out[inside] = np.where(ok, acc, np.nan)
        return out
    if k == 1:
        out[inside] = _multilinear(np.asarray(arrays["values"], _F8), lows, highs, zi)
        return out
    c = np.asarray(arrays["c"], _F8)
    knots = [np.asarray(arrays[f"t_{axis}"], _F8) for axis in range(d)]
    ok = np.ones(zi.shape[0], bool)
    intervals, bases = [], []
    for axis in range(d):
        span = _find_interval(knots[axis], k, zi[:, axis])
        ok &= span >= 0
        span = np.where(span >= 0, span, k)
        intervals.append(span)
        bases.append(_bspline_basis(knots[axis], k, zi[:, axis], span))
    acc = np.zeros(zi.shape[0])
    for flat in range((k + 1) ** d):
        idx = np.unravel_index(flat, (k + 1,) * d)
        factor = np.ones(zi.shape[0])
        for axis in range(d):
            factor = factor * bases[axis][:, idx[axis]]
        coefficient = c[tuple(intervals[axis] + idx[axis] - k for axis in range(d))]
        acc = acc + coefficient * factor
    out[inside] = np.where(ok, acc, np.nan)
    return out


def _multilinear(values, lows, highs, z):
    """scipy's RegularGridInterpolator(method="linear") on the grid linspace(lows, highs, p) per axis."""
    d = lows.size
    grids = [np.linspace(lows[i], highs[i], values.shape[i]) for i in range(d)]
    indices, distances = [], []
    for i, grid in enumerate(grids):
        j = np.clip(np.searchsorted(grid, z[:, i], side="right") - 1, 0, grid.size - 2)
        indices.append(j)
        distances.append((z[:, i] - grid[j]) / (grid[j + 1] - grid[j]))
    if d == 2:
        (i0, i1), (y0, y1) = indices, distances
        return (values[i0, i1] * (1 - y0) * (1 - y1) + values[i0, i1 + 1] * (1 - y0) * y1
                + values[i0 + 1, i1] * y0 * (1 - y1) + values[i0 + 1, i1 + 1] * y0 * y1)
    value = np.zeros(z.shape[0])
    for corner in range(2 ** d):
        bits = [(corner >> (d - 1 - i)) & 1 for i in range(d)]
        weight = np.ones(z.shape[0])
        for i in range(d):
            weight = weight * (distances[i] if bits[i] else 1 - distances[i])
        value = value + values[tuple(indices[i] + bits[i] for i in range(d))] * weight
    return value


def _chebyshev(arrays, z, variables):
    from numpy.polynomial import chebyshev as C

    lows, highs = np.asarray(arrays["lows"], _F8), np.asarray(arrays["highs"], _F8)
    coef = np.asarray(arrays["coefficients"], _F8)
    d = lows.size
    out = np.full(z.shape[0], np.nan)
    inside = _inside(z, lows, highs)
    mid, half = 0.5 * (lows + highs), 0.5 * (highs - lows)
    t = np.clip((z[inside] - mid) / half, -1.0, 1.0)
    val = {1: C.chebval, 2: C.chebval2d, 3: C.chebval3d}[d]
    out[inside] = val(*(t[:, i] for i in range(d)), coef)
    return out


PARTS = {"mlp": _mlp, "modular": _modular, "simplex": _simplex, "spline": _spline, "chebyshev": _chebyshev}


# --------------------------------------------------------------------------- the model


def part_arrays(arrays: dict, k: int) -> dict:
    prefix = f"part_{k}/"
    return {name[len(prefix):]: a for name, a in arrays.items() if name.startswith(prefix)}


class Model:
    """An exported model: ``model(x)`` for x of shape (n, d) (or (d,), or (n,) when d = 1) → (n,) float64."""

    def __init__(self, arrays: dict):
        if str(arrays.get("format")) != FORMAT or int(arrays.get("format_version", -1)) != FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} version {FORMAT_VERSION} model")
        self.arrays = arrays
        self.variables = tuple(str(v) for v in np.atleast_1d(arrays["variables"]))
        self.d = len(self.variables)
        self.output = str(arrays["output"])
        self.kinds = tuple(str(k) for k in np.atleast_1d(arrays["kinds"]))
        self.coefficients = tuple(float(c) for c in np.atleast_1d(arrays["coefficients"]))
        self.parts = [part_arrays(arrays, k) for k in range(len(self.kinds))]
        self.shift = arrays.get("input_shift")
        self.scale = arrays.get("input_scale")

    def inputs(self, x) -> np.ndarray:
        """x as an (n, d) float64 array; (d,) is one point, (n,) is n points when d = 1."""
        return as_points(x, self.variables)

    def standardize(self, x) -> np.ndarray:
        if self.shift is None:
            return x
        return (x - self.shift) * (1.0 / self.scale)  # what XLA computes for jax's (x − shift) / scale

    def __call__(self, x) -> np.ndarray:
        z = self.standardize(self.inputs(x))
        out = None
        for kind, c, arrays in zip(self.kinds, self.coefficients, self.parts):
            term = c * PARTS[kind](arrays, z, self.variables)
            out = term if out is None else out + term
        return out


def as_points(x, variables) -> np.ndarray:
    """x as an (n, d) float64 array for inputs named ``variables`` (d of them): (d,) is one point, (n,) is n
    points when d = 1; any other shape is a ValueError that names the columns."""
    d = len(variables)
    x = np.asarray(x, _F8)
    if x.ndim == 1:
        x = x[:, None] if d == 1 else x[None, :]
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"x must have shape (n, {d}) (columns {', '.join(variables)}), got {np.shape(x)}")
    return x


def load_npz(path) -> Model:
    """The model in a ``prec export --to npz`` file."""
    with np.load(path, allow_pickle=False) as data:
        return Model({name: data[name] for name in data.files})
