"""Fitted models at work: the Python API, prediction and export to standalone predictors."""
