"""The one drawing stack: every figure ``prec plot`` and ``prec reproduce`` writes is drawn here.

Lowest first:

* :mod:`.style`   — matplotlib set-up, sizes, colours, axis finishing, writing PNG + PDF;
* :mod:`.runs`    — the run reader: runs as :class:`~.runs.Entry` (flat config keys + summary), curves as rows
  on one step axis across stages and boosting rounds;
* :mod:`.series`  — runs grouped into series, named for a reader, fitted with power laws; tables;
* :mod:`.panels`  — ``PANELS[kind](ax, series, options)``: scaling, learning curves, τ, fitted functions,
  linear regions, Hessian spectra, each drawn into one matplotlib Axes;
* :mod:`.store_figures` — ``prec plot``: a store's figures, one panel each.

``prec reproduce`` lays the panels of a figure spec out on one page
(:mod:`precision_jax.analysis.reproduce.report`).
"""
