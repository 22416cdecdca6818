"""The HTTP layer without sockets: routing, auth, microversions, errors."""

import json

import pytest

from upgrader.simulator import generate
from upgrader.simulator import server

BASE = 'http://127.0.0.1:1'


@pytest.fixture
def app(tmp_path):
    path = str(tmp_path / 'c.db')
    generate.create_cloud(path, hosts=3, instances=4, anti_affinity_groups=0,
                          azs=1, password='pw', seed=2)
    return server.Application(path, BASE)


def _auth_body(password='pw', project='admin'):
    return json.dumps({'auth': {
        'identity': {'methods': ['password'], 'password': {'user': {
            'name': 'admin', 'domain': {'name': 'Default'},
            'password': password}}},
        'scope': {'project': {'name': project,
                              'domain': {'id': 'default'}}}}}).encode()


@pytest.fixture
def token(app):
    status, body, headers = app.handle('POST', '/identity/v3/auth/tokens',
                                       {}, _auth_body())
    assert status == 201
    return headers['X-Subject-Token']


def test_token_and_catalog(app, token):
    status, body, headers = app.handle('POST', '/identity/v3/auth/tokens',
                                       {}, _auth_body())
    catalog = {e['type']: e for e in body['token']['catalog']}
    assert set(catalog) == {'identity', 'compute', 'placement', 'host-agent',
                            'simulator-admin', 'control-plane'}
    assert catalog['host-agent']['name'] == 'upgrader-host-agent'
    urls = {ep['interface']: ep['url']
            for ep in catalog['compute']['endpoints']}
    assert urls == dict.fromkeys(('public', 'internal', 'admin'),
                                 BASE + '/compute/v2.1')
    assert body['token']['project']['name'] == 'admin'
    assert headers['X-Subject-Token'] != token


@pytest.mark.parametrize('body', [_auth_body(password='no'),
                                  _auth_body(project='other')])
def test_bad_credentials(app, body):
    status, payload, _ = app.handle('POST', '/identity/v3/auth/tokens', {},
                                    body)
    assert status == 401
    assert payload['error']['code'] == 401


def test_token_required(app, token):
    assert app.handle('GET', '/compute/v2.1/os-services', {}, b'')[0] == 401
    status, body, _ = app.handle('GET', '/placement/resource_providers',
                                 {'X-Auth-Token': 'x'}, b'')
    assert status == 401 and 'error' in body
    assert app.handle('GET', '/compute/v2.1/os-services',
                      {'X-Auth-Token': token}, b'')[0] == 200
    # Version documents need no token.
    status, body, _ = app.handle('GET', '/compute/', {}, b'')
    assert body['versions'][0]['version'] == '2.95'
    status, body, _ = app.handle('GET', '/placement', {}, b'')
    assert body['versions'][0]['max_version'] == '1.39'


@pytest.mark.parametrize('header, status, echoed', [
    ({}, 200, '2.1'),
    ({'OpenStack-API-Version': 'compute 2.53'}, 200, '2.53'),
    ({'X-OpenStack-Nova-API-Version': '2.88'}, 200, '2.88'),
    ({'OpenStack-API-Version': 'compute latest'}, 200, '2.95'),
    ({'OpenStack-API-Version': 'compute 2.96'}, 406, None),
    ({'OpenStack-API-Version': 'compute two'}, 400, None),
])
def test_compute_microversions(app, token, header, status, echoed):
    headers = dict(header, **{'X-Auth-Token': token})
    got, body, out = app.handle('GET', '/compute/v2.1/os-hypervisors/detail',
                                headers, b'')
    assert got == status
    if echoed:
        assert out['X-OpenStack-Nova-API-Version'] == echoed
        hv = body['hypervisors'][0]
        assert ('vcpus' in hv) == (
            tuple(map(int, echoed.split('.'))) < (2, 88))
    else:
        assert list(body) in (['notAcceptable'], ['computeFault'],
                              ['badRequest'])


def test_error_formats(app, token):
    auth = {'X-Auth-Token': token}
    status, body, _ = app.handle('GET', '/compute/v2.1/servers/nope', auth,
                                 b'')
    assert (status, list(body)) == (404, ['itemNotFound'])
    status, body, _ = app.handle(
        'GET', '/placement/resource_providers/%s/usages' % ('0' * 32), auth,
        b'')
    assert status == 404 and body['errors'][0]['status'] == 404
    status, body, _ = app.handle('DELETE', '/compute/v2.1/os-services', auth,
                                 b'')
    assert status == 405
    assert app.handle('GET', '/nothing', auth, b'')[0] == 404
    status, body, _ = app.handle('POST', '/host-agent/v1/hosts/cmp001/'
                                 'packages', auth, b'{not json')
    assert status == 400 and 'error' in body


def test_live_migrate_schema(app, token):
    auth = {'X-Auth-Token': token, 'OpenStack-API-Version': 'compute 2.95'}
    _, body, _ = app.handle('GET', '/compute/v2.1/servers?all_tenants=1',
                            auth, b'')
    server_id = body['servers'][0]['id']
    path = '/compute/v2.1/servers/%s/action' % server_id

    def post(args, headers=auth):
        return app.handle('POST', path, headers,
                          json.dumps({'os-migrateLive': args}).encode())[0]
    assert post({'host': None, 'block_migration': 'auto',
                 'force': True}) == 400
    assert post({'block_migration': 'auto'}) == 400
    assert post({'host': None, 'block_migration': 'maybe'}) == 400
    old = dict(auth, **{'OpenStack-API-Version': 'compute 2.30'})
    assert post({'host': None, 'block_migration': 'auto', 'force': False},
                old) == 202


def test_pagination(app, token):
    auth = {'X-Auth-Token': token}
    _, first, _ = app.handle(
        'GET', '/compute/v2.1/servers/detail?all_tenants=1&limit=3', auth,
        b'')
    assert len(first['servers']) == 3
    href = first['servers_links'][0]['href']
    _, rest, _ = app.handle('GET', href[len(BASE):], auth, b'')
    assert len(rest['servers']) == 1
    assert 'servers_links' not in rest
    ids = [s['id'] for s in first['servers'] + rest['servers']]
    assert len(set(ids)) == 4
