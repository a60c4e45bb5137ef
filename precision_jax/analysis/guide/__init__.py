"""The paper's user's guide (Michaud, Liu, Tegmark 2023, Fig. 10) as a procedure: which approximator for which target.

``prec guide`` (:mod:`cli.guide_command`) runs it in four steps, one module each, lowest first:

1. :mod:`~precision_jax.analysis.guide.target_analysis`: :func:`analyze` reads a target — a Feynman equation,
   an inline formula, a teacher network, a config's target or a data file — and measures what the guide
   depends on: d, the computation graph's largest arity d* and its module graph
   (:mod:`~precision_jax.analysis.guide.graph`), smoothness
   (:mod:`~precision_jax.analysis.guide.singularities`), the output scale and the float64 floor ε · RMS(f).
2. :mod:`~precision_jax.analysis.guide.recommendation`: :func:`recommend` applies the guide's rules and
   weighs the candidate methods by their expected scaling exponents.
3. :mod:`~precision_jax.analysis.guide.config_writer`: the recommendation as a ready-to-run config, validated
   as ``prec run`` validates it (:func:`ready_config`, :func:`config_yaml`, :func:`write_config`); nets are
   sized by :mod:`~precision_jax.analysis.guide.net_sizing`.
4. :mod:`~precision_jax.analysis.guide.probes`: :func:`probe` runs small real fits of the candidates and fits
   their scaling slopes, so the recommendation is tested, not just asserted.

On a data file, whose smoothness the rules cannot know, :mod:`~precision_jax.analysis.guide.measured` runs the
probes of ``model: auto`` (:func:`quick_probe`) and makes the measured winner the recommendation (:func:`follow`).

:mod:`~precision_jax.analysis.guide.report` prints it all (:func:`format_report`, :func:`format_probe`).
"""

from __future__ import annotations

from precision_jax.analysis.guide.candidates import Candidate, Recommendation
from precision_jax.analysis.guide.config_writer import config_yaml, ready_config, write_config
from precision_jax.analysis.guide.graph import GraphModule, computation_arity, module_graph
from precision_jax.analysis.guide.measured import follow, format_choice, quick_probe
from precision_jax.analysis.guide.probes import ProbePoint, ProbeResult, probe
from precision_jax.analysis.guide.recommendation import LOW_DIMENSION, NET_KEYS, recommend
from precision_jax.analysis.guide.report import format_probe, format_report
from precision_jax.analysis.guide.singularities import EDGE, NOT_SMOOTH, SMOOTH, UNKNOWN, Smoothness, smoothness
from precision_jax.analysis.guide.target_analysis import EPS, Analysis, GuideError, analyze

__all__ = ["EPS", "LOW_DIMENSION", "NET_KEYS", "SMOOTH", "EDGE", "NOT_SMOOTH", "UNKNOWN", "Analysis", "Candidate",
           "GraphModule", "Recommendation", "ProbeResult", "ProbePoint", "Smoothness", "analyze",
           "computation_arity", "module_graph", "smoothness", "recommend", "probe", "ready_config", "config_yaml",
           "write_config", "format_report", "format_probe", "GuideError", "quick_probe", "follow", "format_choice"]
