"""The simulator host driver without a server: settings and error paths.

Its conversations with the host agent are tested over HTTP against the
simulator in tests/functional/drivers/host.
"""

from oslo_config import cfg
import pytest

from upgrader.common import exception
from upgrader.conf import cloud as cloud_conf
from upgrader.conf import host_access
from upgrader.drivers.host import impl_simulator


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    cloud_conf.register_opts(conf)
    host_access.register_opts(conf)
    conf([])
    return conf


def test_defaults_and_no_connection_until_used(conf):
    driver = impl_simulator.SimulatorHostDriver(conf)
    assert driver.poll_interval == impl_simulator.DEFAULT_POLL_INTERVAL
    assert driver.install_timeout == impl_simulator.DEFAULT_INSTALL_TIMEOUT
    assert driver._agent is None


def test_poll_interval_from_the_option_when_registered(conf):
    conf.register_opt(cfg.FloatOpt('poll_interval'), group='host_access')
    conf.set_override('poll_interval', 1.5, group='host_access')
    assert impl_simulator.SimulatorHostDriver(conf).poll_interval == 1.5
    assert impl_simulator.SimulatorHostDriver(
        conf, poll_interval=0.01).poll_interval == 0.01


def test_unreachable_cloud_is_a_cloud_error(conf, tmp_path):
    clouds = tmp_path / 'clouds.yaml'
    # Port 1 on loopback: nothing listens, the connection is refused.
    clouds.write_text(
        'clouds:\n  dead:\n    auth:\n      auth_url: http://127.0.0.1:1/v3\n'
        '      username: u\n      password: top-secret\n'
        '      project_name: p\n      user_domain_name: Default\n'
        '      project_domain_name: Default\n')
    conf.set_override('cloud', 'dead', group='cloud')
    conf.set_override('clouds_file', str(clouds), group='cloud')
    conf.set_override('api_timeout', 2, group='cloud')
    driver = impl_simulator.SimulatorHostDriver(conf)
    with pytest.raises(exception.CloudUnreachable) as info:
        driver.status('cmp001')
    assert '127.0.0.1:1' in str(info.value)
    assert 'top-secret' not in str(info.value)
