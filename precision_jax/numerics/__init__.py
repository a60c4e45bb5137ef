"""Numerical foundations shared by every layer: random key trees, error metrics, the dense-net forward pass."""
