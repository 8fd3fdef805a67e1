"""The version of gpm: the single source (pyproject.toml reads it; gpm.__version__)."""

__version__ = "0.2.0.dev0"
