"""The test suite's fixtures live in the tests.support.plugin pytest plugin."""

pytest_plugins = ["tests.support.plugin"]
