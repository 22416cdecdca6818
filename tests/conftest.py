"""Fixtures shared by every test: real databases and the cloud simulator."""

pytest_plugins = ['tests.fixtures.config', 'tests.fixtures.databases',
                  'tests.fixtures.simulator']
