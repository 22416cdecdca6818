"""The host agent API (catalog type ``host-agent``) and the admin API
(catalog type ``simulator-admin``): what ssh and the operator would do.

Host agent: host info, package installs and reboots as asynchronous jobs.
Admin: faults, the referee's policy and report, the event log.
"""

import json

from upgrader.simulator.api import base
from upgrader.simulator import faults
from upgrader.simulator import generate
from upgrader.simulator import referee

V = '/v1'


class HostAgentService(base.Service):
    prefix = '/host-agent'
    name = 'host-agent'


class AdminService(base.Service):
    prefix = '/admin'
    name = 'simulator-admin'


AGENT = HostAgentService()
ADMIN = AdminService()
HOST = '/hosts/(?P<host>[^/]+)'


def _version(request, service):
    return {'id': 'v1', 'status': 'CURRENT', 'links': [{
        'rel': 'self', 'href': '%s/%s/v1/' % (request.base_url, service)}]}


@AGENT.route('GET', '', auth=False)
def agent_versions(request, cloud):
    return 200, {'versions': [_version(request, 'host-agent')]}


@AGENT.route('GET', V, auth=False)
def agent_version(request, cloud):
    return 200, {'version': _version(request, 'host-agent')}


def host_view(cloud, host):
    reachable = host['power'] == 'up'
    job = cloud.running_job(host['name'])
    view = {'name': host['name'], 'reachable': reachable,
            'state': (host['power'] if not reachable else
                      'installing' if job is not None else 'up'),
            'boot_id': host['boot_id'] if reachable else None,
            'booted_at': base.iso(host['booted_at']) if reachable else None,
            'reboots': host['reboots'],
            'job': job['id'] if job is not None else None,
            'packages': None, 'running_packages': None,
            'reboot_required': None}
    if reachable:
        packages = cloud.packages(host['name'])
        view['packages'] = {n: v[0] for n, v in packages.items()}
        view['running_packages'] = {n: v[1] for n, v in packages.items()}
        view['reboot_required'] = any(v[0] != v[1]
                                      for v in packages.values())
    return view


def job_view(job):
    params = json.loads(job['params'])
    view = {'id': job['id'], 'host': job['host'], 'kind': job['kind'],
            'status': job['status'], 'error': None,
            'started_at': base.iso(job['started_at']),
            'finished_at': base.iso(job['finished_at'])}
    if job['status'] == 'failed':
        view['error'] = job['error']
    if 'packages' in params:
        view['packages'] = params['packages']
    return view


@AGENT.route('GET', V + '/hosts')
def list_hosts(request, cloud):
    return 200, {'hosts': [host_view(cloud, h) for h in cloud.hosts()]}


@AGENT.route('GET', V + HOST)
def show_host(request, cloud, host):
    return 200, {'host': host_view(cloud, cloud.host(host))}


@AGENT.route('GET', V + HOST + '/packages')
def show_packages(request, cloud, host):
    row = cloud.host(host)
    if row['power'] != 'up':
        raise base.ApiError(409, 'Host %s is unreachable.' % host)
    return 200, {'packages': {n: v[0] for n, v in
                              cloud.packages(host).items()}}


def _accepted(request, job):
    return 202, {'job': job_view(job)}, {
        'Location': '%s/host-agent/v1/jobs/%s' % (request.base_url,
                                                  job['id'])}


@AGENT.route('POST', V + HOST + '/packages')
def install_packages(request, cloud, host):
    body = request.json()
    return _accepted(request, cloud.install_packages(host,
                                                     body.get('packages')))


@AGENT.route('POST', V + HOST + '/reboot')
def reboot_host(request, cloud, host):
    return _accepted(request, cloud.reboot(host))


@AGENT.route('GET', V + HOST + '/jobs')
def list_jobs(request, cloud, host):
    cloud.host(host)
    return 200, {'jobs': [job_view(j) for j in cloud.jobs(host)]}


@AGENT.route('GET', V + '/jobs/(?P<job_id>[^/]+)')
def show_job(request, cloud, job_id):
    return 200, {'job': job_view(cloud.job(job_id))}


# -- admin -------------------------------------------------------------------

@ADMIN.route('GET', '', auth=False)
def admin_versions(request, cloud):
    return 200, {'versions': [_version(request, 'admin')]}


@ADMIN.route('GET', V + '/report')
def get_report(request, cloud):
    return 200, referee.report(cloud.conn, cloud.now)


@ADMIN.route('GET', V + '/faults')
def list_faults(request, cloud):
    return 200, {'faults': faults.list_faults(cloud.conn)}


@ADMIN.route('POST', V + '/faults')
def add_fault(request, cloud):
    body = request.json()
    spec = body.get('fault', body)
    fault_id = faults.add(cloud.conn, spec, cloud.now)
    for fault in faults.list_faults(cloud.conn):
        if fault['id'] == fault_id:
            return 201, {'fault': fault}


@ADMIN.route('DELETE', V + '/faults')
def clear_faults(request, cloud):
    faults.clear(cloud.conn)
    return 204, None


@ADMIN.route('DELETE', V + '/faults/(?P<fault_id>\\d+)')
def delete_fault(request, cloud, fault_id):
    if not faults.delete(cloud.conn, int(fault_id)):
        raise base.ApiError(404, 'Fault %s could not be found.' % fault_id)
    return 204, None


def validate_policy(policy):
    if not isinstance(policy, dict) or not policy:
        raise base.ApiError(400, 'policy must be a non-empty object')
    for key, value in policy.items():
        if key not in generate.DEFAULT_POLICY:
            raise base.ApiError(400, 'unknown policy key %s' % key)
        if value is not None and (not isinstance(value, int)
                                  or isinstance(value, bool) or value < 0):
            raise base.ApiError(400, '%s must be a non-negative integer or '
                                'null' % key)
    return policy


@ADMIN.route('GET', V + '/policy')
def get_policy(request, cloud):
    return 200, {'policy': referee.get_policy(cloud.conn)}


@ADMIN.route('PUT', V + '/policy')
def set_policy(request, cloud):
    body = request.json()
    policy = validate_policy(body.get('policy', body))
    return 200, {'policy': referee.set_policy(cloud.conn, policy)}


@ADMIN.route('GET', V + '/events')
def list_events(request, cloud):
    try:
        since = int(request.arg('since', 0))
    except ValueError:
        raise base.ApiError(400, 'since must be an event id')
    rows = cloud.conn.execute('SELECT * FROM events WHERE id > ? ORDER BY id',
                              (since,))
    return 200, {'events': [{
        'id': r['id'], 'at': base.iso(r['at']), 'kind': r['kind'],
        'host': r['host'], 'instance': r['instance_uuid'],
        'message': r['message']} for r in rows]}
