"""The service-update template's host flows against the simulator's control
plane over real HTTP (the simulator control-plane driver), one controller
after another as a rollout's waves would run them; the referee probes every
API through the load balancer after each change."""

import os

from oslo_config import cfg
import pytest
from taskflow import engines

from upgrader.common import exception
from upgrader.conf import cloud as cloud_conf
from upgrader.drivers import controlplane
from upgrader.tasks import base
from upgrader.workflow import flows
from upgrader.workflow import templates

HOSTS = ('ctl001', 'ctl002', 'ctl003')
OLD = {'keystone': '26.0.0', 'nova-api': '30.0.0',
       'nova-conductor': '30.0.0'}
DOCS = {'keystone': dict({v: {'versions': ['v3.14']}
                          for v in ('26.0.0', '26.0.1', '27.0.0')},
                         # A patch release that drops the v3 API.
                         **{'26.0.2': {'versions': ['v4.0']}})}


def _template(old=None, new=None):
    with open(os.path.join(templates.shipped_dir(),
                           'service-update.yaml')) as f:
        text = f.read()
    if old is not None:
        assert old in text
        text = text.replace(old, new)
    return text


@pytest.fixture
def cloud(simulator):
    conn = simulator.connect()
    created = simulator.api(conn, 'POST', 'control-plane', '/', json={
        'controllers': 3, 'versions': OLD, 'documents': DOCS})
    assert created.status_code == 201, created.text
    conf = cfg.ConfigOpts()
    cloud_conf.register_opts(conf)
    conf([])
    conf.set_override('cloud', simulator.cloud_name, group='cloud')
    conf.set_override('clouds_file', simulator.clouds_yaml, group='cloud')
    driver = controlplane.fetch(conf)
    base.set_runtime(base.Runtime(compute=None, hosts=None,
                                  controlplane=driver, poll_interval=0.01))
    yield simulator, driver
    base.set_runtime(None)


def _roll(template, versions):
    for host in HOSTS:
        flow = flows.host_flow(host, template)
        engines.run(flow, store=flows.host_store('r1', host, [], versions))


def _keystone(driver):
    return {h: driver.host_services(h)['keystone'] for h in HOSTS}


def test_update_keystone_on_three_controllers_without_downtime(cloud):
    simulator, driver = cloud
    _roll(_template(), {'keystone': '26.0.1', 'qemu': '8.2.2'})
    keystone = _keystone(driver)
    assert {h: (k['version'], k['in_lb'], k['healthy'])
            for h, k in keystone.items()} == dict.fromkeys(
                HOSTS, ('26.0.1', True, True))
    assert {driver.host_services(h)['nova-api']['version']
            for h in HOSTS} == {'30.0.0'}
    report = simulator.report()
    # 1 probe per API service after each of 5 changes per host, plus the
    # creation's. nova-api 30 over computes of 29: created pinned.
    assert report['control_plane'] == {
        'probes': 2 * (1 + 5 * len(HOSTS)), 'failed_probes': 0,
        'failed_by_service': {}, 'incompatible': 0, 'rpc_incompatible': 0,
        'rpc_pins': {'nova-compute': '29.0.0'}, 'restores': 0,
        'writes_lost': 0}
    assert report['violations']['total'] == 0


def test_without_the_balancer_steps_the_referee_sees_downtime(cloud):
    simulator, driver = cloud
    naive = _template('  - task: lb_out\n', '').replace('  - task: lb_in\n',
                                                        '')
    _roll(naive, {'keystone': '26.0.1'})
    assert {k['version'] for k in _keystone(driver).values()} == {'26.0.1'}
    report = simulator.report()['control_plane']
    # Stopped (then reinstalled) while in the balancer, on every host.
    assert report['failed_by_service'] == {'keystone': 2 * len(HOSTS)}


def test_a_version_that_does_not_answer_reverts_its_host(cloud):
    simulator, driver = cloud
    # 27.0.0 needs the keystone schema expanded: it starts but cannot work.
    flow = flows.host_flow('ctl001', _template('timeout: 300',
                                               'timeout: 0.5'))
    with pytest.raises(exception.HostNotReady, match='not healthy'):
        engines.run(flow, store=flows.host_store(
            'r1', 'ctl001', [], {'keystone': '27.0.0'}))
    keystone = _keystone(driver)
    assert {h: (k['version'], k['in_lb'], k['healthy'])
            for h, k in keystone.items()} == dict.fromkeys(
                HOSTS, ('26.0.0', True, True))
    report = simulator.report()['control_plane']
    # It ran on a schema it cannot use (recorded), but out of the balancer:
    # no request failed.
    assert report['incompatible'] == 1
    assert report['failed_probes'] == 0


def test_a_release_breaking_the_api_contract_reverts_the_first_host(cloud):
    simulator, driver = cloud
    flow = flows.host_flow('ctl001', _template())
    with pytest.raises(exception.Conflict, match='v3.14 dropped'):
        engines.run(flow, store=flows.host_store(
            'r1', 'ctl001', [], {'keystone': '26.0.2'}))
    keystone = _keystone(driver)
    assert {h: (k['version'], k['in_lb'], k['healthy'])
            for h, k in keystone.items()} == dict.fromkeys(
                HOSTS, ('26.0.0', True, True))
    report = simulator.report()['control_plane']
    assert (report['failed_probes'], report['incompatible']) == (0, 0)
