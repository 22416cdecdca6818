"""Keystone v3 subset: version discovery, password and token auth, catalog.

Tokens are random; only their sha256 is stored, so any server process on the
same state file accepts them.
"""

import hashlib
import hmac
import secrets

from upgrader.simulator.api import base
from upgrader.simulator import state

TOKEN_LIFETIME = 24 * 3600
ADMIN_ROLE = {'id': 'a0000000000000000000000000000001', 'name': 'admin'}
# (service type, service name, path)
CATALOG = [
    ('identity', 'keystone', '/identity'),
    ('compute', 'nova', '/compute/v2.1'),
    ('placement', 'placement', '/placement'),
    ('host-agent', 'upgrader-host-agent', '/host-agent/v1'),
    ('simulator-admin', 'upgrader-simulator', '/admin/v1'),
    ('control-plane', 'upgrader-control-plane', '/controlplane/v1'),
]
INTERFACES = ('public', 'internal', 'admin')
UNAUTHORIZED = 'The request you have made requires authentication.'


class IdentityService(base.Service):
    prefix = '/identity'
    name = 'identity'


SERVICE = IdentityService()


def digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(request, conn, now):
    """Check the request's X-Auth-Token; raise a 401 ApiError if not valid."""
    token = request.headers.get('X-Auth-Token')
    if not token or not _valid(conn, token, now):
        raise base.ApiError(401, UNAUTHORIZED, headers={
            'WWW-Authenticate': 'Keystone uri="%s/identity"'
                                % request.base_url})
    request.auth = token


def _valid(conn, token, now):
    return conn.execute('SELECT 1 FROM tokens WHERE digest = ? AND '
                        'expires_at > ?', (digest(token), now)).fetchone()


def catalog(base_url, region):
    entries = []
    for service_type, name, path in CATALOG:
        sid = hashlib.md5(service_type.encode()).hexdigest()
        entries.append({
            'id': sid, 'type': service_type, 'name': name,
            'endpoints': [{'id': hashlib.md5((sid + i).encode()).hexdigest(),
                           'interface': i, 'region': region,
                           'region_id': region, 'url': base_url + path}
                          for i in INTERFACES]})
    return entries


def _version(base_url):
    return {'id': 'v3.14', 'status': 'stable',
            'updated': '2020-04-07T00:00:00Z',
            'links': [{'rel': 'self', 'href': base_url + '/identity/v3/'}],
            'media-types': [{
                'base': 'application/json',
                'type': 'application/vnd.openstack.identity-v3+json'}]}


@SERVICE.route('GET', '', auth=False)
def versions(request, cloud):
    return 300, {'versions': {'values': [_version(request.base_url)]}}


@SERVICE.route('GET', '/v3', auth=False)
def version(request, cloud):
    return 200, {'version': _version(request.base_url)}


def _check_domain(domain):
    if not domain:
        return True
    return domain.get('id') == 'default' or domain.get('name') == 'Default'


def _identify(body, creds, conn, now):
    identity = body.get('auth', {}).get('identity', {})
    methods = identity.get('methods') or []
    if 'password' in methods:
        user = identity.get('password', {}).get('user', {})
        name_ok = (user.get('id') == creds['user_id'] or
                   (user.get('name') == creds['username']
                    and _check_domain(user.get('domain'))))
        password = str(user.get('password', ''))
        if name_ok and hmac.compare_digest(password.encode(),
                                           creds['password'].encode()):
            return 'password'
    elif 'token' in methods:
        token = identity.get('token', {}).get('id', '')
        if token and _valid(conn, token, now):
            return 'token'
    raise base.ApiError(401, UNAUTHORIZED)


@SERVICE.route('POST', '/v3/auth/tokens', auth=False)
def issue_token(request, cloud):
    body = request.json()
    creds = state.get_meta(cloud.conn, 'credentials')
    method = _identify(body, creds, cloud.conn, cloud.now)
    scope = body.get('auth', {}).get('scope')
    project = None
    if scope:
        wanted = scope.get('project') if isinstance(scope, dict) else None
        if not wanted or not (
                wanted.get('id') == creds['project_id'] or
                (wanted.get('name') == creds['project_name']
                 and _check_domain(wanted.get('domain')))):
            raise base.ApiError(401, 'The request you have made requires '
                                'authentication: unknown scope.')
        project = creds
    token = secrets.token_urlsafe(32)
    expires = cloud.now + TOKEN_LIFETIME
    cloud.conn.execute('INSERT INTO tokens VALUES (?, ?, ?)',
                       (digest(token), cloud.now, expires))
    cloud.conn.execute('DELETE FROM tokens WHERE expires_at < ?',
                       (cloud.now,))
    body = _token_body(request.base_url, creds, project, method, cloud.now,
                       expires)
    return 201, body, {'X-Subject-Token': token}


def _token_body(base_url, creds, project, method, issued, expires):
    domain = {'id': 'default', 'name': 'Default'}
    token = {
        'methods': [method],
        'user': {'id': creds['user_id'], 'name': creds['username'],
                 'domain': domain, 'password_expires_at': None},
        'audit_ids': [secrets.token_urlsafe(16)],
        'issued_at': base.iso(issued, zulu=True),
        'expires_at': base.iso(expires, zulu=True),
    }
    if project is not None:
        token['project'] = {'id': creds['project_id'],
                            'name': creds['project_name'], 'domain': domain}
        token['is_domain'] = False
        token['roles'] = [ADMIN_ROLE]
        token['catalog'] = catalog(base_url, creds['region_name'])
    return {'token': token}


@SERVICE.route('GET', '/v3/auth/tokens')
def validate_token(request, cloud):
    subject = request.headers.get('X-Subject-Token', '')
    row = cloud.conn.execute(
        'SELECT * FROM tokens WHERE digest = ? AND expires_at > ?',
        (digest(subject), cloud.now)).fetchone()
    if row is None:
        raise base.ApiError(404, 'Could not find token: %s.' % subject[:8])
    creds = state.get_meta(cloud.conn, 'credentials')
    return 200, _token_body(request.base_url, creds, creds, 'password',
                            row['issued_at'], row['expires_at']), {
        'X-Subject-Token': subject}


@SERVICE.route('DELETE', '/v3/auth/tokens')
def revoke_token(request, cloud):
    subject = request.headers.get('X-Subject-Token', '')
    cloud.conn.execute('DELETE FROM tokens WHERE digest = ?',
                       (digest(subject),))
    return 204, None


@SERVICE.route('GET', '/v3/auth/catalog')
def get_catalog(request, cloud):
    creds = state.get_meta(cloud.conn, 'credentials')
    return 200, {'catalog': catalog(request.base_url, creds['region_name'])}
