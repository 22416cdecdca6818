"""The simulator host-access driver over real HTTP, against the simulator.

Packages, reboots and boot ids through the host-agent service of the same
cloud, credentials and catalog the compute driver uses.
"""

import logging

from oslo_config import cfg
import pytest

from upgrader.common import exception
from upgrader.conf import cloud as cloud_conf
from upgrader.conf import host_access
from upgrader.drivers import host as host_drivers
from upgrader.drivers.host import impl_simulator

HOST = 'cmp001'
NEW = {'nova-compute': '30.0.0', 'qemu': '8.2.0'}


def _conf(cloud):
    # A ConfigOpts of our own: the process's CONF may carry keystoneauth
    # plugin options (required auth_url) another test registered on it.
    conf = cfg.ConfigOpts()
    cloud_conf.register_opts(conf)
    host_access.register_opts(conf)
    conf([])
    conf.set_override('cloud', cloud.cloud_name, group='cloud')
    conf.set_override('clouds_file', cloud.clouds_yaml, group='cloud')
    return conf


@pytest.fixture
def make_driver():
    def make(cloud):
        driver = host_drivers.fetch(_conf(cloud), 'simulator')
        assert isinstance(driver, impl_simulator.SimulatorHostDriver)
        return driver
    return make


@pytest.fixture
def cloud(simulator):
    return simulator


@pytest.fixture
def driver(cloud, make_driver):
    return make_driver(cloud)


@pytest.fixture
def slow_cloud(simulator_factory):
    """Installs of 1.5 s a package and reboots of 3 s (wall): a test sees
    the host busy however loaded the machine is."""
    return simulator_factory(durations={'package_install': 300.0,
                                        'reboot': 600.0})


def _agent(cloud, method, path, **kwargs):
    return cloud.api(cloud.connect(), method, 'host-agent', path, **kwargs)


def test_status_reports_boot_id_and_packages(driver, cloud):
    status = driver.status(HOST)
    assert status.reachable and status.activity is None
    view = _agent(cloud, 'GET', '/hosts/%s' % HOST).json()['host']
    assert status.boot_id == view['boot_id']
    assert status.packages == view['packages']
    some = driver.status(HOST, packages=['nova-compute', 'not-installed'])
    assert some.packages == {'nova-compute': view['packages']['nova-compute']}


def test_unknown_host_is_not_found(driver):
    with pytest.raises(exception.HostNotFound):
        driver.status('no-such-host')


def test_install_new_versions(driver, caplog):
    caplog.set_level(logging.DEBUG)
    driver.install_packages(HOST, NEW)
    status = driver.status(HOST, packages=sorted(NEW))
    assert status.packages == NEW and status.activity is None
    # Idempotent: the versions are there, nothing is started.
    driver.install_packages(HOST, NEW)
    assert 'sim-secret' not in caplog.text


def test_install_waits_for_the_same_install_already_running(
        simulator_factory, make_driver):
    # 2 packages x 60 s at time scale 200: 0.6 s of wall time.
    cloud = simulator_factory(durations={'package_install': 60.0})
    driver = make_driver(cloud)
    started = _agent(cloud, 'POST', '/hosts/%s/packages' % HOST,
                     json={'packages': NEW})
    assert started.status_code == 202
    assert driver.status(HOST).activity == 'installing'
    driver.install_packages(HOST, NEW)
    assert driver.status(HOST, packages=sorted(NEW)).packages == NEW


def test_install_while_another_install_runs_fails(slow_cloud, make_driver):
    driver = make_driver(slow_cloud)
    _agent(slow_cloud, 'POST', '/hosts/%s/packages' % HOST,
           json={'packages': {'qemu': '8.2.0'}})
    with pytest.raises(exception.HostActionFailed, match='busy with job'):
        driver.install_packages(HOST, NEW)


def test_install_failure_carries_the_error(simulator_factory, make_driver):
    cloud = simulator_factory(faults=[{'kind': 'package_fail', 'host': HOST,
                                       'package': 'qemu'}])
    driver = make_driver(cloud)
    with pytest.raises(exception.HostActionFailed) as info:
        driver.install_packages(HOST, NEW)
    assert info.value.kwargs['action'] == 'install packages'
    assert 'E: failed to install qemu=8.2.0 on %s' % HOST in str(info.value)


def test_reboot_and_wait_for_a_new_boot_id(driver):
    old = driver.status(HOST).boot_id
    driver.reboot(HOST)
    rebooting = driver.status(HOST)
    assert not rebooting.reachable and rebooting.boot_id is None
    assert rebooting.activity == 'rebooting'
    # Asked again while rebooting: already done.
    driver.reboot(HOST)
    new = driver.wait_for_boot(HOST, old, timeout=10)
    assert new and new != old
    assert driver.status(HOST).boot_id == new


def test_reboot_during_an_install_fails(slow_cloud, make_driver):
    driver = make_driver(slow_cloud)
    _agent(slow_cloud, 'POST', '/hosts/%s/packages' % HOST,
           json={'packages': NEW})
    with pytest.raises(exception.HostActionFailed, match='busy'):
        driver.reboot(HOST)


def test_wait_for_boot_times_out(simulator_factory, make_driver):
    cloud = simulator_factory(faults=[{'kind': 'reboot_no_return',
                                       'host': HOST}])
    driver = make_driver(cloud)
    old = driver.status(HOST).boot_id
    driver.reboot(HOST)
    with pytest.raises(exception.HostActionFailed,
                       match='wait for boot failed: not back') as info:
        driver.wait_for_boot(HOST, old, timeout=1.0)
    assert 'rebooting' in str(info.value)
    assert not driver.status(HOST).reachable


def test_an_unreachable_host_refuses_installs(slow_cloud, make_driver):
    driver = make_driver(slow_cloud)
    driver.reboot(HOST)
    with pytest.raises(exception.HostActionFailed, match='unreachable'):
        driver.install_packages(HOST, NEW)
