"""Fixtures for the API tests: ``fdcheck`` (no fd leaks) for the gpm.net tests."""

from tests.support import fdcheck  # noqa: F401
