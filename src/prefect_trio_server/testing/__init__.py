"""Testing helpers: the pytest plugin lives in ``testing.plugin``."""
