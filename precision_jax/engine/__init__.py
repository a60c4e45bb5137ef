"""How a model is trained: the optimizer stages, the one driver loop around them, Krylov solvers, Hessians,
the auto chain."""
