"""gpm.debug (placeholder)."""
__all__ = []
