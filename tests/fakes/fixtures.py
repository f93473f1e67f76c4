"""pytest fixtures that start the fake servers; conftest.py imports them for every test file."""
