"""What is fitted: targets (Feynman equations, formulas, teacher nets, data files) and the sampling of their points."""
