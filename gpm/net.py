"""gpm.net (placeholder)."""
__all__ = []
