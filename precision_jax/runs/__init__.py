"""A run from plan to disk: training a seed group, the results store, checkpoints, provenance, sweeps and SLURM."""
