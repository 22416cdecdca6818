"""Fidelity: the simulator answers the driver the way Nova does.

Every HTTP call upgrader's openstacksdk driver makes in a short script
(inventory, one host, disable/enable, a live migration and its records) is
recorded as (method, path template) -> status, microversion header and the
field paths of the JSON body. ``fidelity/nova.json`` holds that recording
made against the real Nova of the lab; the ``[nova]`` run checks the lab
still answers so (``NOVA_LAB_RECORD=1`` writes the file anew), the
``[simulator]`` run checks the simulator gives every field, status and
header Nova gives.
"""

import json
import os
import re
import time

from upgrader.drivers import compute

RECORDING = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         'fidelity', 'nova.json')
_ID = re.compile(r'/(?:[0-9a-f]{32}|[0-9a-f-]{36}|\d+)(?=/|$)')
# Headers whose presence and value Nova's clients rely on.
HEADERS = ('OpenStack-API-Version', 'X-OpenStack-Nova-API-Version')
# Fields Nova gives only in some states: a migration has links only while it
# is in progress, which a poll may or may not catch.
STATEFUL = ('migrations[].links',)


def _template(url):
    path = url.split('://', 1)[-1]
    path, _, query = path.partition('?')
    path = '/' + path.split('/', 1)[-1] if '/' in path else '/'
    # Drop the endpoint's own prefix (/v2.1, /compute, /placement): what
    # follows the service's root is the API.
    path = re.sub(r'^.*?/v2\.1', '', path) if '/v2.1' in path else (
        re.sub(r'^/(placement|compute)(?=/|$)', '', path) or '/')
    keys = sorted(k.split('=')[0] for k in query.split('&') if k)
    return _ID.sub('/{id}', path) + ('?' + '&'.join(keys) if keys else '')


def _fields(body, prefix=''):
    if isinstance(body, dict):
        found = set()
        for key, value in body.items():
            found.add(prefix + key)
            found |= _fields(value, prefix + key + '.')
        return found
    if isinstance(body, list):
        found = set()
        for item in body:
            found |= _fields(item, prefix.rstrip('.') + '[].')
        return found
    return set()


class Recorder:
    """Wraps a keystoneauth session's request: one entry per call kind."""

    def __init__(self, session):
        self.calls = {}
        self._request = session.request
        session.request = self.request

    def request(self, url, method, *args, **kwargs):
        resp = self._request(url, method, *args, **kwargs)
        if '/v3' in url and '/v2.1' not in url:
            return resp  # keystone: the simulator's identity is not under test
        try:
            body = resp.json()
        except ValueError:
            body = None
        key = '%s %s' % (method.upper(), _template(resp.request.url
                                                   if resp.request else url))
        entry = self.calls.setdefault(key, {'status': resp.status_code,
                                            'headers': {}, 'fields': []})
        for name in HEADERS:
            if name in resp.headers:
                entry['headers'][name] = resp.headers[name]
        entry['fields'] = sorted(set(entry['fields']) | _fields(body))
        return resp


def _exercise(cloud, conf_for):
    driver = compute.fetch(conf_for(cloud))
    recorder = Recorder(driver.conn.session)
    inventory = driver.get_inventory()
    instance = inventory.instances[0]
    driver.get_host(instance.host)
    driver.get_instance(instance.uuid)
    dest = next(h.name for h in inventory.hosts if h.name != instance.host)
    driver.disable_service(instance.host, 'upgrader fidelity check')
    driver.enable_service(instance.host)
    driver.live_migrate(instance.uuid, dest)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        moved = driver.get_instance(instance.uuid)
        migrations = driver.list_migrations(instance.uuid)
        if (moved.host == dest and moved.status == 'ACTIVE' and migrations
                and migrations[-1].finished):
            break
        time.sleep(0.5)
    driver.list_instances(host=dest)
    return recorder.calls


def test_driver_calls_answered_as_nova_answers(cloud_factory, conf_for):
    cloud = cloud_factory(servers=2)
    calls = _exercise(cloud, conf_for)
    if cloud.backend == 'nova' and os.environ.get('NOVA_LAB_RECORD'):
        with open(RECORDING, 'w') as f:
            json.dump(calls, f, indent=1, sort_keys=True)
            f.write('\n')
    with open(RECORDING) as f:
        nova = json.load(f)
    problems = []
    for key, want in sorted(nova.items()):
        got = calls.get(key)
        if got is None:
            problems.append('%s: not called' % key)
            continue
        if got['status'] != want['status']:
            problems.append('%s: status %s, Nova %s' % (key, got['status'],
                                                        want['status']))
        for name, value in want['headers'].items():
            if got['headers'].get(name) != value:
                problems.append('%s: header %s=%s, Nova %s' % (
                    key, name, got['headers'].get(name), value))
        missing = sorted(f for f in set(want['fields']) - set(got['fields'])
                         if not f.startswith(STATEFUL))
        if missing:
            problems.append('%s: fields missing: %s' % (key,
                                                        ', '.join(missing)))
    extra = sorted(set(calls) - set(nova))
    if extra:
        problems.append('calls Nova was not seen answering: %s'
                        % ', '.join(extra))
    assert problems == []
