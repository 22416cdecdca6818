"""What the lab serves itself on one port: stand-ins and the host agent.

- ``/image``: the few Glance calls Nova makes to boot (the version document,
  ``GET /v2/images/{id}`` of the one lab image, ``/v2/schemas/image``);
- ``/network``: Neutron's version document and empty lists for every
  collection (servers boot with ``networks=none``, ports and extensions are
  looked up and found empty);
- ``/host-agent``: the host-agent API that upgrader's ``simulator`` host
  driver speaks (see upgrader/simulator/api/hostagent.py), answered by the
  lab's hosts: a reboot stops the host's nova-compute process and starts it
  again, an install records the versions on the host.

It runs in the test process, which owns the lab's processes.
"""

import http.server
import json
import re
import threading
import uuid

IMAGE_ID = '6a0a9cf1-4a0e-4c3b-9b8e-5ab0c0de1ab0'
IMAGE = {
    'id': IMAGE_ID, 'name': 'lab-image', 'status': 'active',
    'visibility': 'public', 'protected': False, 'min_ram': 0, 'min_disk': 0,
    'size': 1024, 'virtual_size': None, 'disk_format': 'raw',
    'container_format': 'bare', 'checksum': None, 'os_hash_algo': None,
    'os_hash_value': None, 'owner': None, 'tags': [],
    'created_at': '2026-01-01T00:00:00Z', 'updated_at': '2026-01-01T00:00:00Z',
    'self': '/v2/images/%s' % IMAGE_ID,
    'file': '/v2/images/%s/file' % IMAGE_ID,
    'schema': '/v2/schemas/image',
}
IMAGE_SCHEMA = {'name': 'image', 'properties': {k: {} for k in IMAGE},
                'additionalProperties': {'type': 'string'},
                'links': [{'rel': 'self', 'href': '{self}'}]}


def _version_document(base, version, path):
    return {'versions': [{'id': version, 'status': 'CURRENT', 'links': [
        {'rel': 'self', 'href': '%s/%s/' % (base, path)}]}]}


class LabHosts:
    """The host-agent view of the lab's computes (thread-safe).

    ``restart`` is the lab's function that stops and starts one host's
    nova-compute; it returns when the new process runs.
    """

    def __init__(self, names, packages, restart):
        self.lock = threading.Lock()
        self.restart = restart
        self.hosts = {n: {'name': n, 'boot_id': str(uuid.uuid4()),
                          'state': 'up', 'job': None, 'reboots': 0,
                          'packages': dict(packages)} for n in names}
        self.jobs = {}

    def view(self, name):
        with self.lock:
            host = self.hosts[name]
            reachable = host['state'] == 'up'
            return {'name': name, 'reachable': reachable,
                    'state': host['state'], 'reboots': host['reboots'],
                    'boot_id': host['boot_id'] if reachable else None,
                    'job': host['job'],
                    'packages': dict(host['packages']) if reachable else None}

    def _job(self, name, kind, **params):
        job = dict(params, id=str(uuid.uuid4()), host=name, kind=kind,
                   status='running', error=None)
        self.jobs[job['id']] = job
        return job

    def install(self, name, packages):
        with self.lock:
            host = self.hosts[name]
            if host['state'] != 'up':
                return None
            job = self._job(name, 'install', packages=dict(packages))
            host['packages'].update(packages)
            job['status'] = 'succeeded'
            return dict(job)

    def reboot(self, name):
        with self.lock:
            host = self.hosts[name]
            if host['state'] != 'up':
                return None
            host['state'] = 'rebooting'
            job = self._job(name, 'reboot')
            host['job'] = job['id']
        threading.Thread(target=self._reboot, args=(name, job),
                         daemon=True).start()
        return dict(job)

    def _reboot(self, name, job):
        try:
            self.restart(name)
            status, error = 'succeeded', None
        except Exception as e:  # the job says so; the host stays down
            status, error = 'failed', str(e)
        with self.lock:
            host = self.hosts[name]
            job.update(status=status, error=error)
            host['job'] = None
            if status == 'succeeded':
                host.update(state='up', boot_id=str(uuid.uuid4()),
                            reboots=host['reboots'] + 1)
            else:
                host['state'] = 'down'

    def job(self, job_id):
        with self.lock:
            job = self.jobs.get(job_id)
            return dict(job) if job else None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        self.server.requests.append('%s %s' % (self.command, self.path))

    def _reply(self, status, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else b''
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get('Content-Length') or 0)
        return json.loads(self.rfile.read(length) or b'{}')

    def do_GET(self):
        self._reply(*self.server.route('GET', self.path, None))

    def do_POST(self):
        self._reply(*self.server.route('POST', self.path, self._body()))

    def do_DELETE(self):
        self._reply(*self.server.route('DELETE', self.path, None))

    do_PUT = do_POST


class StandIn(http.server.ThreadingHTTPServer):
    """Serves /image, /network and /host-agent on 127.0.0.1 (a free port)."""

    daemon_threads = True

    def __init__(self, hosts=None):
        super().__init__(('127.0.0.1', 0), _Handler)
        self.hosts = hosts
        self.requests = []
        self.url = 'http://127.0.0.1:%d' % self.server_address[1]
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever,
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()

    def route(self, method, path, body):
        path = path.split('?', 1)[0].rstrip('/')
        service, _, rest = path.lstrip('/').partition('/')
        handler = {'image': self._image, 'network': self._network,
                   'host-agent': self._agent}.get(service)
        if handler is None:
            return 404, {'error': 'no such service'}
        return handler(method, '/' + rest if rest else '', body)

    def _image(self, method, path, body):
        if path in ('', '/versions'):
            return 200, _version_document(self.url, 'v2.16', 'image/v2')
        if path == '/v2/schemas/image':
            return 200, IMAGE_SCHEMA
        if path == '/v2/images/%s' % IMAGE_ID:
            return 200, IMAGE
        if path == '/v2/images':
            return 200, {'images': [IMAGE]}
        return 404, {'message': 'Image not found'}

    def _network(self, method, path, body):
        if path == '':
            return 200, _version_document(self.url, 'v2.0', 'network/v2.0')
        found = re.match(r'^/v2\.0/([a-z-]+?)(\.json)?$', path)
        if method == 'GET' and found:
            return 200, {found.group(1).replace('-', '_'): []}
        return 404, {'NeutronError': {'message': 'not found'}}

    def _agent(self, method, path, body):
        if path == '':
            return 200, _version_document(self.url, 'v1', 'host-agent/v1')
        found = re.match(r'^/v1/hosts/([^/]+)(/packages|/reboot)?$', path)
        if found and found.group(1) not in self.hosts.hosts:
            return 404, {'error': {'message': 'no host %s' % found.group(1)}}
        if found and method == 'GET' and not found.group(2):
            return 200, {'host': self.hosts.view(found.group(1))}
        if found and method == 'POST' and found.group(2):
            name = found.group(1)
            job = (self.hosts.install(name, body.get('packages') or {})
                   if found.group(2) == '/packages'
                   else self.hosts.reboot(name))
            if job is None:
                return 409, {'error': {'message': 'host %s is busy or '
                                                  'unreachable' % name}}
            return 202, {'job': job}
        found = re.match(r'^/v1/jobs/([^/]+)$', path)
        if found and method == 'GET':
            job = self.hosts.job(found.group(1))
            if job is None:
                return 404, {'error': {'message': 'no such job'}}
            return 200, {'job': job}
        return 404, {'error': {'message': 'not found'}}
