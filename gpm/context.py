"""gpm.context (placeholder)."""
__all__ = []
