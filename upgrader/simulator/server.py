"""The simulator's HTTP server, embeddable in a thread or run as a process.

:class:`SimulatorServer` serves one state file on 127.0.0.1 (a free port by
default) until stopped; :func:`start_subprocess` runs ``upgrader-simulator
serve`` in a child process. Both give the Keystone URL and a clouds.yaml.
"""

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

from oslo_log import log as logging
import yaml

from upgrader.common import exception
from upgrader.simulator.api import base
from upgrader.simulator.api import compute
from upgrader.simulator.api import controlplane
from upgrader.simulator.api import hostagent
from upgrader.simulator.api import identity
from upgrader.simulator.api import placement
from upgrader.simulator.api import servers  # noqa: F401  (registers routes)
from upgrader.simulator import cloud as sim_cloud
from upgrader.simulator import faults
from upgrader.simulator import state

LOG = logging.getLogger(__name__)

SERVICES = (identity.SERVICE, compute.SERVICE, placement.SERVICE,
            hostagent.AGENT, hostagent.ADMIN, controlplane.SERVICE)
DEFAULT_CLOUD_NAME = 'upgrader-simulator'


class Application:
    """Dispatches a request to its service, inside one state transaction."""

    def __init__(self, state_file, base_url, time_scale=None):
        self.state_file = os.fspath(state_file)
        self.base_url = base_url
        self.time_scale = time_scale

    def handle(self, method, raw_path, headers, body):
        """Return (status, JSON-able body or None, headers)."""
        request = base.Request(method, raw_path, headers, body,
                               self.base_url)
        service = self._service(request.path)
        extra = {'x-openstack-request-id': 'req-%s' % uuid.uuid4()}
        if service is None:
            return 404, {'error': {'code': 404, 'title': 'Not Found',
                                   'message': 'No such service.'}}, extra
        try:
            func, groups, auth = service.match(
                method, request.path[len(service.prefix):].rstrip('/'))
            extra.update(service.negotiate(request))
            status, payload, headers = self._call(service, request, func,
                                                  groups, auth)
            extra.update(headers)
            return status, payload, extra
        except base.ApiError as e:
            status, message = e.status, e.message
            extra.update(e.headers)
        except exception.UpgraderException as e:
            status, message = base.status_of(e), str(e)
        except Exception as e:
            LOG.exception('Simulator failed on %s %s', method, raw_path)
            status, message = 500, 'Unexpected simulator error: %s' % e
        owner = identity.SERVICE if status == 401 else service
        return status, owner.error_body(status, message), extra

    def _service(self, path):
        for service in SERVICES:
            if path == service.prefix or path.startswith(
                    service.prefix + '/'):
                return service
        return None

    def _call(self, service, request, func, groups, auth):
        conn = state.connect(self.state_file)
        try:
            if service is not hostagent.ADMIN:
                self._api_faults(conn, request)
            with state.transaction(conn):
                cloud = sim_cloud.Cloud(conn, time_scale=self.time_scale)
                if auth:
                    identity.authenticate(request, conn, cloud.now)
                cloud.advance()
                result = func(request, cloud, **groups)
        finally:
            conn.close()
        if len(result) == 2:
            return result[0], result[1], {}
        return result

    def _api_faults(self, conn, request):
        if not faults.any_api_fault(conn):
            return
        with state.transaction(conn):
            delay, status = faults.trigger_api(conn, request.method,
                                               request.path)
        if delay:
            time.sleep(delay)
        if status:
            raise base.ApiError(status, 'Simulated fault: %s %s answers %d.'
                                % (request.method, request.path, status))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'upgrader-simulator'
    # Headers and body go out in separate writes: without TCP_NODELAY,
    # Nagle and delayed ACKs add 40 ms to every answer.
    disable_nagle_algorithm = True

    def _dispatch(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        status, payload, headers = self.server.app.handle(
            self.command, self.path, self.headers, body)
        data = b'' if payload is None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if data:
                self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            if self.command != 'HEAD':
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. a timeout against a slow fault).
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch

    def log_message(self, fmt, *args):
        LOG.debug('%s %s', self.address_string(), fmt % args)


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, app_factory):
        super().__init__(address, _Handler)
        self.app = app_factory(self.server_address)
        self._connections = set()
        self._lock = threading.Lock()

    def process_request(self, request, client_address):
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self):
        """Drop kept-alive connections so clients see the server gone."""
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SimulatorServer:
    """Serve a state file over HTTP in a background thread.

    ``with SimulatorServer(state_file) as sim:`` starts it; ``sim.url`` is the
    Keystone v3 auth URL and ``sim.write_clouds_yaml(path)`` writes a
    clouds.yaml entry for openstacksdk. ``time_scale`` overrides the one
    stored in the state file for operations started by this server.
    """

    def __init__(self, state_file, host='127.0.0.1', port=0,
                 time_scale=None):
        self.state_file = os.fspath(state_file)
        self.host = host
        self.port = port
        self.time_scale = time_scale
        self._httpd = None
        self._thread = None
        # Fail early on a missing or foreign state file.
        state.connect(self.state_file).close()

    def start(self):
        def app_factory(address):
            return Application(self.state_file, 'http://%s:%d' % address[:2],
                               self.time_scale)
        self._httpd = _HTTPServer((self.host, self.port), app_factory)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={'poll_interval': 0.1},
            name='upgrader-simulator-%d' % self.port, daemon=True)
        self._thread.start()
        LOG.info('Simulator serving %s at %s', self.state_file, self.url)
        return self

    def stop(self):
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def base_url(self):
        return 'http://%s:%d' % (self.host, self.port)

    @property
    def url(self):
        """The Keystone v3 auth URL."""
        return self.base_url + '/identity/v3'

    @property
    def credentials(self):
        return credentials(self.state_file, self.url)

    def write_clouds_yaml(self, path, cloud_name=DEFAULT_CLOUD_NAME):
        return write_clouds_yaml(path, self.state_file, self.url, cloud_name)


Simulator = SimulatorServer


def credentials(state_file, auth_url):
    """The admin credentials of a simulated cloud, with its auth URL."""
    conn = state.connect(state_file)
    try:
        creds = state.get_meta(conn, 'credentials')
    finally:
        conn.close()
    return {'auth_url': auth_url, 'username': creds['username'],
            'password': creds['password'],
            'project_name': creds['project_name'],
            'user_domain_name': creds['user_domain_name'],
            'project_domain_name': creds['project_domain_name'],
            'region_name': creds['region_name']}


def cloud_config(state_file, auth_url):
    """A clouds.yaml entry (a dict) for a simulated cloud."""
    creds = credentials(state_file, auth_url)
    region = creds.pop('region_name')
    return {'auth_type': 'password', 'auth': creds, 'region_name': region,
            'identity_api_version': 3, 'interface': 'public'}


def write_clouds_yaml(path, state_file, auth_url,
                      cloud_name=DEFAULT_CLOUD_NAME):
    """Add or replace one cloud in a clouds.yaml (other clouds are kept)."""
    path = os.fspath(path)
    data = {}
    if os.path.exists(path):
        with open(path) as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, dict):
            raise exception.InvalidInput(reason='%s is not a clouds.yaml'
                                                % path)
    data.setdefault('clouds', {})[cloud_name] = cloud_config(state_file,
                                                             auth_url)
    tmp = path + '.tmp'
    # The file holds the (simulator-only) admin password.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        yaml.safe_dump(data, f, default_flow_style=False, sort_keys=True)
    os.replace(tmp, path)
    return path


class SimulatorProcess:
    """An ``upgrader-simulator serve`` child process."""

    def __init__(self, process, url, state_file):
        self.process = process
        self.url = url
        self.base_url = url.rsplit('/identity/', 1)[0]
        self.state_file = state_file

    @property
    def credentials(self):
        return credentials(self.state_file, self.url)

    def write_clouds_yaml(self, path, cloud_name=DEFAULT_CLOUD_NAME):
        return write_clouds_yaml(path, self.state_file, self.url, cloud_name)

    def stop(self, timeout=10):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.process.stdout:
            self.process.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_subprocess(state_file, port=0, time_scale=None, host='127.0.0.1',
                     timeout=30):
    """Run ``upgrader-simulator serve`` and wait until it prints its URL."""
    cmd = [sys.executable, '-m', 'upgrader.cmd.simulator', 'serve',
           '--state', os.fspath(state_file), '--host', host,
           '--port', str(port)]
    if time_scale is not None:
        cmd += ['--time-scale', str(time_scale)]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    line = ''
    while time.monotonic() < deadline:
        line = process.stdout.readline().strip()
        if line.startswith('http') or process.poll() is not None:
            break
    if not line.startswith('http'):
        process.kill()
        process.wait()
        raise exception.UpgraderException(
            'upgrader-simulator serve did not start (exit %s)'
            % process.returncode)
    return SimulatorProcess(process, line, os.fspath(state_file))
