"""The control-plane API over real HTTP (keystoneauth from openstacksdk's
session, the catalog's ``control-plane`` endpoint), judged by the referee."""

OLD = {'keystone': '26.0.0', 'nova-api': '30.0.0',
       'nova-conductor': '30.0.0'}
DOC = {'26.0.0': {'versions': ['v3.14'], 'min': None, 'max': None},
       '27.0.1': {'versions': ['v3.14'], 'min': None, 'max': None}}


def test_upgrade_keystone_through_the_api(simulator):
    conn = simulator.connect()

    def call(method, path, **kwargs):
        return simulator.api(conn, method, 'control-plane', path, **kwargs)

    created = call('POST', '/', json={'controllers': 2, 'versions': OLD,
                                      'documents': {'keystone': DOC}})
    assert created.status_code == 201, created.text
    assert sorted(created.json()['services']['keystone']['instances']) == [
        'ctl001', 'ctl002']
    answer = call('GET', '/lb/keystone')
    assert answer.status_code == 200
    assert answer.json()['version']['version'] == '26.0.0'

    assert call('POST', '/databases/keystone/migrate',
                json={'phase': 'expand', 'to': 27}).status_code == 204
    for host in ('ctl001', 'ctl002'):
        instance = '/hosts/%s/services/keystone' % host
        for method, path, body in (
                ('PUT', '/lb', {'in_lb': False}), ('POST', '/stop', None),
                ('PUT', '/version', {'version': '27.0.1'}),
                ('POST', '/start', None), ('PUT', '/lb', {'in_lb': True})):
            result = call(method, instance + path, json=body)
            assert result.status_code == 204, (path, result.text)
    answer = call('GET', '/lb/keystone')
    assert answer.json()['version'] == dict(DOC['27.0.1'],
                                            service='keystone',
                                            version='27.0.1')
    report = simulator.report()
    assert report['control_plane']['failed_probes'] == 0
    assert report['control_plane']['incompatible'] == 0
    assert report['violations']['total'] == 0

    # Stopped while still in the balancer: requests fail, and say why.
    assert call('POST', '/hosts/ctl001/services/keystone/stop').status_code \
        == 204
    answer = call('GET', '/lb/keystone')
    assert answer.status_code == 503 and 'ctl001' in answer.text
    refused = call('PUT', '/hosts/ctl002/services/keystone/version',
                   json={'version': '28.0.0'})
    assert refused.status_code == 409
    report = simulator.report()['control_plane']
    assert report['failed_by_service'] == {'keystone': 2}
