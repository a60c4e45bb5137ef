"""The config engine: strict YAML, checked dataclass fields, and the registries of model and stage kinds."""
