"""gpm.sync (placeholder)."""
__all__ = []
