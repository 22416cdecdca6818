"""Nova's compute RPC pin over real HTTP: the simulator control-plane
driver pins and unpins it, the simulator host driver upgrades the computes'
nova-compute through the host agent, and the referee says which orders
break the RPC between them (``rpc_incompatible``)."""

from oslo_config import cfg
import pytest

from upgrader.common import exception
from upgrader.conf import cloud as cloud_conf
from upgrader.drivers import controlplane
from upgrader.drivers.host import impl_simulator as host_simulator

NOVA = {'nova-api': '29.0.0', 'nova-conductor': '29.0.0',
        'nova-scheduler': '29.0.0'}
CONTROLLERS = ('ctl001', 'ctl002')
COMPUTES = ('cmp001', 'cmp002', 'cmp003')
PIN = 'nova-compute'


class Cloud:
    """A simulated cloud of three computes (nova-compute 29.0.0, no
    instances) and two controllers running nova 29.0.0, with its drivers."""

    def __init__(self, simulator):
        self.simulator = simulator
        self.conn = simulator.connect()
        created = self.api('POST', '/', json={
            'controllers': len(CONTROLLERS), 'versions': NOVA})
        assert created.status_code == 201, created.text
        conf = cfg.ConfigOpts()
        cloud_conf.register_opts(conf)
        conf([])
        conf.set_override('cloud', simulator.cloud_name, group='cloud')
        conf.set_override('clouds_file', simulator.clouds_yaml,
                          group='cloud')
        self.driver = controlplane.fetch(conf)
        self.hosts = host_simulator.SimulatorHostDriver(conf,
                                                        poll_interval=0.01)

    def api(self, method, path, **kwargs):
        return self.simulator.api(self.conn, method, 'control-plane', path,
                                  **kwargs)

    def upgrade(self, host, service, version='30.0.0'):
        if service == 'nova-api':
            self.driver.set_in_lb(host, service, False)
        self.driver.stop(host, service)
        self.driver.install(host, service, version)
        self.driver.start(host, service)
        if service == 'nova-api':
            self.driver.set_in_lb(host, service, True)

    def upgrade_control_plane(self, version='30.0.0'):
        self.driver.migrate('nova', 'expand', 30)
        for service in ('nova-conductor', 'nova-scheduler', 'nova-api'):
            for host in CONTROLLERS:
                self.upgrade(host, service, version)

    def upgrade_compute(self, host, version='30.0.0'):
        self.hosts.install_packages(host, {'nova-compute': version})

    def rpc(self):
        """The rpc_incompatible violations: [(host, service)]."""
        report = self.simulator.report()
        found = [(v['host'], v['details']['service'])
                 for v in report['violations']['details']
                 if v['kind'] == 'rpc_incompatible']
        assert report['control_plane']['rpc_incompatible'] == len(found)
        return found


@pytest.fixture
def cloud(simulator_factory):
    return Cloud(simulator_factory(hosts=len(COMPUTES), instances=0,
                                   anti_affinity_groups=0))


def test_pinned_upgrade_in_the_upstream_order(cloud):
    assert cloud.driver.rpc_pin(PIN) is None
    cloud.driver.pin_rpc(PIN, '29.0.0')
    cloud.driver.pin_rpc(PIN, '29.0.0')             # idempotent
    assert cloud.driver.rpc_pin(PIN) == '29.0.0'
    answer = cloud.api('GET', '/rpc-pins/nova-compute')
    assert answer.json() == {'rpc_pin': {'service': PIN,
                                         'version': '29.0.0'}}
    cloud.upgrade_control_plane()
    for host in COMPUTES:
        cloud.upgrade_compute(host)
    assert cloud.api('GET', '/').json()['rpc_pins'] == {PIN: '29.0.0'}
    cloud.driver.unpin_rpc(PIN)
    cloud.driver.unpin_rpc(PIN)                     # idempotent
    assert cloud.driver.rpc_pin(PIN) is None
    report = cloud.simulator.report()
    assert report['violations']['total'] == 0, report['violations']
    assert report['control_plane']['rpc_pins'] == {PIN: None}
    assert report['control_plane']['failed_probes'] == 0


def test_conductor_upgraded_without_the_pin(cloud):
    cloud.driver.migrate('nova', 'expand', 30)
    cloud.upgrade('ctl001', 'nova-conductor')
    assert cloud.rpc() == [('ctl001', 'nova-conductor')]
    report = cloud.simulator.report()
    assert report['violations']['by_kind']['rpc_incompatible'] == 1
    assert report['violations']['total'] == 1


def test_computes_before_the_conductors(cloud):
    cloud.driver.pin_rpc(PIN, '29.0.0')
    cloud.upgrade_compute('cmp001')
    assert cloud.rpc() == [('cmp001', 'nova-compute')]


def test_unpinned_while_an_old_compute_remains(cloud):
    cloud.driver.pin_rpc(PIN, '29.0.0')
    cloud.upgrade_control_plane()
    for host in COMPUTES[:-1]:
        cloud.upgrade_compute(host)
    assert cloud.rpc() == []
    cloud.driver.unpin_rpc(PIN)
    # Every nova control service sends what cmp003 cannot read.
    assert sorted(cloud.rpc()) == sorted(
        (h, s) for h in CONTROLLERS for s in NOVA)


def test_refusals(cloud):
    with pytest.raises(exception.NotFound, match='only nova-compute'):
        cloud.driver.rpc_pin('keystone')
    with pytest.raises(exception.NotFound, match='only nova-compute'):
        cloud.driver.unpin_rpc('nova-conductor')
    assert cloud.api('PUT', '/rpc-pins/nova-compute',
                     json={}).status_code == 400
    assert cloud.api('PUT', '/rpc-pins/nova-compute',
                     json={'version': 'latest'}).status_code == 400
    assert cloud.driver.rpc_pin(PIN) is None
