"""Fixtures shared by every test: real databases, ZooKeeper, the cloud
simulator, and an operator driving upgrader-manage."""

pytest_plugins = ['tests.fixtures.config', 'tests.fixtures.databases',
                  'tests.fixtures.operator', 'tests.fixtures.rabbitmq',
                  'tests.fixtures.simulator',
                  'tests.fixtures.sshd', 'tests.fixtures.zookeeper']
