"""The paper's user's guide (Michaud, Liu, Tegmark 2023, Fig. 10) as rules: which approximator for which target.

:func:`recommend` weighs the candidate methods (:class:`Candidate`, each with its expected scaling exponent of
RMSE against the parameter count N) for an :class:`~precision_jax.analysis.guide.target_analysis.Analysis`:

* d ≤ 3 and smooth: Chebyshev interpolation (spectral: faster than any power of N for analytic f), with a
  high-order spline (RMSE ∝ N^(−(n+1)/d)) as the alternative; both reach the float64 floor with few points.
  A singularity at the box's edge makes both algebraic, but Chebyshev nodes cluster at the edges, which
  softens it (I.30.5, arcsin at its branch point: Chebyshev N^-2.2 against the order-5 spline's N^-1.7).
* d ≤ 3 and not smooth (or smoothness unknown, for data): linear simplex interpolation, N^(−2/d).
* d ≥ 4 with d* < d: a network. ReLU nets scale as N^(−2/d*); modular nets wired as the module graph do so
  most reliably. For precision, the config is a tanh net (modular when the graph is known) trained with
  Levenberg–Marquardt (the chain of ``configs/precision/I.11.19.yaml``), never Adam for the last phase; a
  target that is not smooth gets a ReLU net trained with Adam, then BFGS.
* d ≥ 4 and no known structure (data): every method is expected to suffer the curse of dimensionality,
  N^(−2/d); a network is recommended because it can find low-arity structure if there is some.

The recommendation carries its ready-to-run config
(:func:`precision_jax.analysis.guide.config_writer.recommended_config`) and each candidate its probe sizes.
"""

from __future__ import annotations

from typing import Optional

from precision_jax.analysis.guide.candidates import Candidate, Recommendation
from precision_jax.analysis.guide.config_writer import recommended_config
from precision_jax.analysis.guide.singularities import EDGE, NOT_SMOOTH, SMOOTH
from precision_jax.analysis.guide.target_analysis import Analysis

__all__ = ["LOW_DIMENSION", "NET_KEYS", "candidates", "recommend"]

LOW_DIMENSION = 3                      # the guide's "low d": interpolants up to here
NET_KEYS = ("net", "modular")          # the candidates that are networks


def _exp_text(exponent: Optional[float], rule: str) -> str:
    if exponent is None:
        return "faster than any power of N (spectral)"
    return f"N^{exponent:.3g}  ({rule})"


def _interpolant_sizes(kind: str, d: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Probe sizes D (standard, quick): above the floor for most targets, a second or less each."""
    table = {
        ("chebyshev", 1): (6, 12, 24), ("chebyshev", 2): (36, 144, 576), ("chebyshev", 3): (125, 1000, 8000),
        ("spline", 1): (10, 20, 40), ("spline", 2): (64, 256, 1024), ("spline", 3): (216, 1728, 13824),
        ("simplex", 1): (50, 200, 800), ("simplex", 2): (200, 800, 3200), ("simplex", 3): (250, 1000, 4000),
        ("simplex", 4): (250, 600, 1500), ("simplex", 5): (150, 350, 800), ("simplex", 6): (100, 200, 400),
    }
    sizes = table.get((kind, min(d, 3) if kind != "simplex" else d))
    if sizes is None:
        return (), ()
    return sizes, sizes[:2]


def _data_sizes(pool: int, least: int, most: Optional[int] = None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Probe sizes for a data file: 1/16, 1/4 and all of the ``pool`` rows (capped at ``most``), each ≥ ``least``."""
    top = min(pool, most) if most else pool
    sizes = tuple(sorted({n for n in (top // 16, top // 4, top) if n >= least}))
    return sizes, sizes[:2]


def _spline_order(d: int) -> int:
    return 7 if d == 1 else 5


def _candidates(a: Analysis) -> dict[str, Candidate]:
    d, smooth = a.d, a.smooth
    out: dict[str, Candidate] = {}
    data = a.kind == "data"
    if d <= 3:
        # A least-squares series of degree ≥ 1 needs D ≥ 4·2^d rows (models.chebyshev.default_rows_degree).
        sizes = _data_sizes(a.pool, 4 * 2 ** d) if data else _interpolant_sizes("chebyshev", d)
        if data:
            label, expectation = "least-squares Chebyshev series", "faster than any power of N if the data are smooth"
        else:
            label, expectation = "Chebyshev interpolation", _exp_text(None, "")
        out["chebyshev"] = Candidate("chebyshev", label, None, expectation, {"kind": "chebyshev"}, *sizes)
        n = _spline_order(d)
        if smooth.smooth:
            exponent, rule = -(n + 1) / d, f"−(n+1)/d, n = {n}"
        else:
            n, exponent, rule = 3, -2 / d, "−2/d: a kink limits every order"
        out["spline"] = Candidate("spline", f"spline order {n}", exponent, _exp_text(exponent, rule),
                                  {"kind": "spline", "order": n}, *_interpolant_sizes("spline", d))
    sizes = _interpolant_sizes("simplex", d)
    if data and sizes[0]:
        sizes = _data_sizes(a.pool, d + 2, sizes[0][-1])
    if sizes[0]:
        out["simplex"] = Candidate("simplex", "simplex interpolation", -2 / d, _exp_text(-2 / d, "−2/d"),
                                   {"kind": "simplex"}, *sizes)
    dstar = a.d_star if a.d_star is not None or d > 2 else d  # data in d ≤ 2: d* ≤ d, and d is all there is
    exponent = -2 / dstar if dstar else None
    rule = f"ReLU: −2/d*, d* = {dstar}" if dstar else "ReLU: −2/d*, d* unknown"
    bounds = None if dstar else (-1.0, -2 / d)
    net_text = _exp_text(exponent, rule) if dstar else f"between N^{-2 / d:.3g} (−2/d) and N^-1 (−2/d*, d* = 2)"
    net_sizes, net_quick = (256, 1024, 4096), (100, 400)
    if data:  # D = N // (d+1) must fit in the file's rows
        n_max = min(4096, a.pool * (d + 1))
        net_sizes = tuple(sorted({n for n in (n_max // 16, n_max // 4, n_max) if n >= 30}))
        net_quick = net_sizes[:2]
    out["net"] = Candidate("net", "dense net", exponent, net_text, {"kind": "mlp", "depth": 3, "activation": "relu"},
                           net_sizes, net_quick, bounds)
    if a.graph is not None:
        out["modular"] = Candidate("modular", "modular net (wired as the module graph)", exponent,
                                   _exp_text(exponent, rule), {"kind": "modular", "activation": "relu"},
                                   net_sizes, net_quick)
    return out


def candidates(a: Analysis) -> dict[str, Candidate]:
    """Every candidate the rules weigh for ``a``, by key (what a measured choice may pick from)."""
    return _candidates(a)


def recommend(a: Analysis) -> Recommendation:
    """Apply the guide (module docstring) to an analysis, with its config (validated by ``ready_config``)."""
    c = _candidates(a)
    d = a.d
    notes: list[str] = []

    def present(*keys: str) -> list[Candidate]:
        return [c[k] for k in keys if k in c]

    if a.d_used is not None:
        notes.append(f"the formula uses {a.d_used} of its {d} variables; the others only widen the box")
    if a.kind == "data":
        if d <= LOW_DIMENSION:
            rec = Recommendation(f"low d (d = {d}), smoothness unknown", c["simplex"],
                                 f"d = {d} is low and a data file's smoothness is unknown: linear simplex "
                                 f"interpolation (N^{-2 / d:.3g}) assumes nothing; if the data are smooth, "
                                 "the least-squares Chebyshev series converges much faster (--probe tells)",
                                 [c["simplex"], c["chebyshev"], c["net"]], notes)
            if a.grid:
                notes.append("the rows form a full tensor grid (a lookup table): a spline can interpolate it; "
                             "give test_data with points off the grid")
        else:
            rec = Recommendation(f"high d (d = {d}), structure unknown", c["net"],
                                 f"d = {d} is high: simplex and spline errors fall only as N^(−2/d) = "
                                 f"N^{-2 / d:.3g} (the curse of dimensionality); a network is the only method "
                                 "that can exploit low-arity structure (N^(−2/d*)) if the data have some",
                                 present("net", "simplex"), notes)
            notes.append("warning: with no known structure, expect every method to need many points per "
                         "digit of accuracy")
    elif d <= LOW_DIMENSION and a.smooth.smooth:
        why = ("it is analytic on the box, where Chebyshev interpolation converges spectrally"
               if a.smooth.verdict == SMOOTH else
               "a singularity at the box's edge makes every method algebraic, but Chebyshev nodes cluster at "
               "the edges, which softens it (a uniform spline grid does not)")
        rec = Recommendation(f"low d (d = {d}), smooth", c["chebyshev"], f"d = {d} is low and f is smooth; "
                             f"{why}. Chebyshev and high-order splines reach the float64 floor with few points "
                             "(the paper's guide: high-order splines or polynomials)",
                             [c["chebyshev"], c["spline"], c["simplex"]], notes)
    elif d <= LOW_DIMENSION:
        rec = Recommendation(f"low d (d = {d}), not smooth", c["simplex"],
                             f"d = {d} is low but f is not smooth: higher orders gain nothing at a kink, so "
                             f"linear simplex interpolation (N^{-2 / d:.3g}) is the robust choice",
                             [c["simplex"], c["spline"]], notes)
    elif a.d_star is not None and a.d_star < d:
        graph = "wired as the formula's module graph (modular) " if "modular" in c else ""
        rec = Recommendation(f"high d (d = {d}), low arity (d* = {a.d_star})", present("modular", "net")[0],
                             f"d = {d} is high but the computation graph has arity d* = {a.d_star}: networks "
                             f"{graph}scale as N^(−2/d*) = N^{-2 / a.d_star:.3g}, simplex only as N^(−2/d) = "
                             f"N^{-2 / d:.3g}", present("modular", "net", "simplex"), notes)
        if not a.smooth.smooth:
            notes.append("f is not smooth: ReLU nets are piecewise linear and take kinks in their stride; the "
                         "config uses ReLU with Adam then BFGS")
    else:
        rec = Recommendation(f"high d (d = {d}), no low-arity structure", c["net"],
                             f"d = {d} and d* = {a.d_star}: every method suffers the curse of dimensionality",
                             present("net", "simplex"), notes)
        notes.append("warning: expect N^(−2/d) for every method")
    if rec.method.key in NET_KEYS:
        if a.smooth.smooth or a.kind == "data":
            notes.append("the config trains a tanh net with Levenberg–Marquardt (the precision chain of "
                         "configs/precision/I.11.19.yaml); --probe measures the scaling of ReLU nets trained "
                         "with Adam on D = N // (d+1) points, the paper's protocol behind −2/d*")
        else:
            notes.append("--probe measures ReLU nets trained with Adam on D = N // (d+1) points, the paper's "
                         "protocol behind −2/d*")
    if a.smooth.verdict == EDGE:
        notes.extend(f"near-singular: {n}" for n in a.smooth.notes)
    elif a.smooth.verdict == NOT_SMOOTH:
        notes.extend(f"not smooth: {n}" for n in a.smooth.notes)
    if a.kind == "teacher":
        notes.append("a student net with the teacher's activation and at least its widths has zero architecture "
                     "error (the paper's teacher–student setting)")
    rec.config = recommended_config(a, rec.method)
    return rec
