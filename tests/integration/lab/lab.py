"""A real Nova on 127.0.0.1: keystone, placement, nova-api, -conductor,
-scheduler and N nova-compute services (fake virt driver), brought up from
the pinned PyPI releases of requirements.txt in a virtual environment of
their own, on the machine's MariaDB and RabbitMQ.

``NovaLab(workdir, venv).start()`` brings it up; ``stop()`` kills every
process it started (process groups) and drops its databases and RabbitMQ
vhost, also after a failed start. Everything the lab creates carries a
unique ``nova_lab_<tag>`` name.
"""

import contextlib
import os
import shutil
import signal
import socket
import string
import subprocess
import sys
import threading
import time
import uuid

import openstack
import sqlalchemy as sa

from tests.integration.lab import standin

HERE = os.path.dirname(os.path.abspath(__file__))
MYSQL_URL = os.environ.get('UPGRADER_TEST_MYSQL_URL',
                           'mysql+pymysql://root@127.0.0.1:3306/')
RABBIT = '127.0.0.1:5672'
DEFAULT_MIGRATION_SECONDS = 2.0
DATABASES = ('keystone', 'placement', 'api', 'cell0', 'cell1')
PASSWORD = 'lab-secret'
ADMIN_PASSWORD = 'lab-admin-secret'
CLOUD_NAME = 'nova-lab'
REGION = 'RegionOne'
# The service users of keystone_authtoken and of Nova's clients.
SERVICE_USERS = ('nova', 'placement')


class LabError(Exception):
    """The lab could not start (the message says which step and why)."""


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.5, check=None):
    """Poll predicate() until truthy; ``check()`` may raise meanwhile (a
    process that died)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:
            value = None
        if value:
            return value
        if check is not None:
            check()
        if time.monotonic() > deadline:
            raise LabError('%s: not within %ss' % (what, timeout))
        time.sleep(interval)


class NovaLab:

    def __init__(self, workdir, venv, computes=4,
                 migration_seconds=DEFAULT_MIGRATION_SECONDS,
                 packages=None):
        self.workdir = os.path.abspath(workdir)
        self.venv = os.path.abspath(venv)
        self.tag = uuid.uuid4().hex[:8]
        self.prefix = 'nova_lab_%s' % self.tag
        self.hosts = ['lab-cmp%d' % (i + 1) for i in range(computes)]
        self.ports = {}
        self.procs = {}
        self.timings = {}
        self.migration_seconds_file = os.path.join(self.workdir,
                                                   'migration_seconds')
        self.initial_migration_seconds = migration_seconds
        self.agent = standin.LabHosts(self.hosts, packages or {},
                                      self.restart_compute)
        self.standin = None
        self.clouds_yaml = os.path.join(self.workdir, 'clouds.yaml')
        self.cloud_name = CLOUD_NAME
        self.flavor_id = None
        self.image_id = standin.IMAGE_ID
        self._lock = threading.Lock()
        self._created = {'databases': False, 'vhost': False}

    # -- paths and commands ------------------------------------------------

    def path(self, *parts):
        return os.path.join(self.workdir, *parts)

    def bin(self, name):
        return os.path.join(self.venv, 'bin', name)

    @property
    def keystone_url(self):
        return 'http://127.0.0.1:%d' % self.ports['keystone']

    def db_url(self, name):
        return '%s%s_%s?charset=utf8' % (MYSQL_URL, self.prefix, name)

    def _env(self, **extra):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(('OS_', 'VIRTUAL_ENV', 'PYTHON'))}
        env.update(PATH='%s:%s' % (os.path.join(self.venv, 'bin'),
                                   env.get('PATH', '/usr/bin:/bin')),
                   NOVA_LAB_MIGRATION_SECONDS_FILE=self.migration_seconds_file,
                   **extra)
        return env

    def run(self, argv, timeout=600, **env):
        """Run a lab command to completion; its output goes to a log."""
        name = os.path.basename(argv[0])
        with open(self.path('logs', 'manage.log'), 'a') as log:
            log.write('\n$ %s\n' % ' '.join(argv))
            log.flush()
            result = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT,
                                    env=self._env(**env), timeout=timeout,
                                    cwd=self.workdir)
        if result.returncode:
            raise LabError('%s failed (exit %d): see %s' % (
                ' '.join([name] + argv[1:3]), result.returncode,
                self.path('logs', 'manage.log')))

    def spawn(self, name, argv, **env):
        """Start a lab process in a session (process group) of its own."""
        log = open(self.path('logs', '%s.out' % name), 'ab')
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=self._env(**env),
                                cwd=self.workdir, start_new_session=True)
        log.close()
        with self._lock:
            self.procs[name] = proc
        return proc

    def gunicorn(self, name, module, port, **env):
        return self.spawn(name, [
            self.bin('gunicorn'), '--no-control-socket', '--bind',
            '127.0.0.1:%d' % port, '--workers', '1', '--threads', '4',
            '--timeout', '600', '--chdir', HERE, 'wsgi:application'],
            NOVA_LAB_WSGI_MODULE=module, **env)

    def check_processes(self):
        with self._lock:
            dead = [(n, p.returncode) for n, p in self.procs.items()
                    if p.poll() is not None]
        if dead:
            raise LabError('lab processes exited: %s (logs in %s)' % (
                ', '.join('%s (%s)' % d for d in dead), self.path('logs')))

    # -- bring-up ----------------------------------------------------------

    @contextlib.contextmanager
    def _step(self, name):
        start = time.monotonic()
        yield
        self.timings[name] = round(time.monotonic() - start, 1)

    def start(self):
        started = time.monotonic()
        try:
            with self._step('prepare'):
                self._prepare()
            with self._step('db sync'):
                self._sync_databases()
            with self._step('keystone'):
                self._start_identity()
            with self._step('nova services'):
                self._start_nova()
            with self._step('computes up'):
                self._wait_for_computes()
        except BaseException:
            self.stop()
            raise
        self.timings['total'] = round(time.monotonic() - started, 1)
        return self

    def _prepare(self):
        shutil.rmtree(self.workdir, ignore_errors=True)
        for sub in ('logs', 'nova', 'locks', 'fernet-keys',
                    'credential-keys'):
            os.makedirs(self.path(sub), exist_ok=True)
        with open(self.migration_seconds_file, 'w') as f:
            f.write(str(self.initial_migration_seconds))
        for name in ('keystone', 'placement', 'nova-api'):
            self.ports[name] = free_port()
        self.standin = standin.StandIn(self.agent).start()
        self._create_databases()
        self._create_vhost()
        values = {'logs': self.path('logs'), 'state': self.workdir,
                  'keystone_url': self.keystone_url, 'password': PASSWORD,
                  'standin_url': self.standin.url,
                  'transport_url': 'rabbit://%s:%s@%s/%s' % (
                      self.prefix, PASSWORD, RABBIT, self.prefix)}
        values.update(('db_%s' % d, self.db_url(d)) for d in DATABASES)
        for conf in ('keystone.conf', 'placement.conf', 'nova.conf'):
            with open(os.path.join(HERE, conf)) as f:
                text = string.Template(f.read()).substitute(values)
            with open(self.path(conf), 'w') as f:
                f.write(text)
        shutil.copy(os.path.join(self.venv, 'etc', 'nova', 'api-paste.ini'),
                    self.path('api-paste.ini'))
        for host in self.hosts:
            os.makedirs(self.path('nova', host), exist_ok=True)
            with open(self.path('%s.conf' % host), 'w') as f:
                f.write('[DEFAULT]\nhost = %s\nstate_path = %s\n'
                        'instances_path = %s\n' % (
                            host, self.path('nova', host),
                            self.path('nova', host, 'instances')))

    def _admin_engine(self):
        return sa.create_engine(MYSQL_URL, isolation_level='AUTOCOMMIT',
                                poolclass=sa.pool.NullPool,
                                connect_args={'connect_timeout': 5})

    def _create_databases(self):
        self._created['databases'] = True
        with self._admin_engine().connect() as conn:
            for name in DATABASES:
                conn.execute(sa.text('CREATE DATABASE %s_%s CHARACTER SET '
                                     'utf8mb4' % (self.prefix, name)))

    def _rabbitmqctl(self, *argv):
        result = subprocess.run(['rabbitmqctl', '-q'] + list(argv),
                                capture_output=True, text=True, timeout=60)
        if result.returncode:
            raise LabError('rabbitmqctl %s: %s' % (
                argv[0], (result.stderr or result.stdout).strip()[:300]))

    def _create_vhost(self):
        self._rabbitmqctl('add_vhost', self.prefix)
        self._created['vhost'] = True
        self._rabbitmqctl('add_user', self.prefix, PASSWORD)
        self._rabbitmqctl('set_permissions', '-p', self.prefix, self.prefix,
                          '.*', '.*', '.*')

    def _sync_databases(self):
        """keystone, placement and nova schemas, three chains at once."""
        keystone = [self.bin('keystone-manage'), '--config-file',
                    self.path('keystone.conf')]
        nova = [self.bin('nova-manage'), '--config-file',
                self.path('nova.conf')]
        chains = [
            [keystone + ['db_sync'],
             keystone + ['fernet_setup', '--keystone-user', 'root',
                         '--keystone-group', 'root'],
             keystone + ['credential_setup', '--keystone-user', 'root',
                         '--keystone-group', 'root'],
             keystone + ['bootstrap', '--bootstrap-password', ADMIN_PASSWORD,
                         '--bootstrap-admin-url', self.keystone_url + '/v3',
                         '--bootstrap-public-url', self.keystone_url + '/v3',
                         '--bootstrap-internal-url', self.keystone_url + '/v3',
                         '--bootstrap-region-id', REGION]],
            [[self.bin('placement-manage'), '--config-file',
              self.path('placement.conf'), 'db', 'sync']],
            [nova + ['api_db', 'sync'],
             nova + ['cell_v2', 'map_cell0', '--database_connection',
                     self.db_url('cell0')],
             nova + ['cell_v2', 'create_cell', '--name', 'cell1'],
             nova + ['db', 'sync']],
        ]
        errors = []

        def run_chain(chain):
            try:
                for argv in chain:
                    self.run(argv)
            except Exception as e:
                errors.append(e)
        threads = [threading.Thread(target=run_chain, args=(c,))
                   for c in chains]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def _start_identity(self):
        self.gunicorn('keystone', 'keystone.wsgi.api',
                      self.ports['keystone'],
                      OS_KEYSTONE_CONFIG_DIR=self.workdir)
        self.gunicorn('placement', 'placement.wsgi.api',
                      self.ports['placement'],
                      OS_PLACEMENT_CONFIG_DIR=self.workdir)
        self._write_clouds_yaml()
        conn = wait_until(self._admin_connection, 300, 'keystone answers',
                          check=self.check_processes)
        self._register_services(conn)

    def _write_clouds_yaml(self):
        with open(self.clouds_yaml, 'w') as f:
            f.write('clouds:\n  %s:\n    region_name: %s\n'
                    '    identity_api_version: 3\n    auth:\n'
                    '      auth_url: %s/v3\n      username: admin\n'
                    '      password: %s\n      project_name: admin\n'
                    '      user_domain_name: Default\n'
                    '      project_domain_name: Default\n' % (
                        CLOUD_NAME, REGION, self.keystone_url,
                        ADMIN_PASSWORD))

    def connect(self, compute_api_version='2.95'):
        config = openstack.config.OpenStackConfig(
            config_files=[self.clouds_yaml], load_envvars=False)
        region = config.get_one(cloud=CLOUD_NAME,
                                compute_api_version=compute_api_version)
        return openstack.connection.Connection(config=region)

    def _admin_connection(self):
        conn = self.connect()
        conn.authorize()
        return conn

    def _register_services(self, conn):
        identity = conn.identity
        service_project = identity.create_project(name='service',
                                                  domain_id='default')
        roles = {r.name: r for r in identity.roles()}
        if 'service' not in roles:
            roles['service'] = identity.create_role(name='service')
        for name in SERVICE_USERS:
            user = identity.create_user(name=name, password=PASSWORD,
                                        domain_id='default')
            for role in ('admin', 'service'):
                identity.assign_project_role_to_user(service_project, user,
                                                     roles[role])
        catalog = {
            'compute': ('nova', 'http://127.0.0.1:%d/v2.1'
                        % self.ports['nova-api']),
            'placement': ('placement', 'http://127.0.0.1:%d'
                          % self.ports['placement']),
            'image': ('glance', self.standin.url + '/image'),
            'network': ('neutron', self.standin.url + '/network'),
            'host-agent': ('host-agent', self.standin.url + '/host-agent/v1'),
        }
        for service_type, (name, url) in catalog.items():
            service = identity.create_service(name=name, type=service_type)
            for interface in ('public', 'internal', 'admin'):
                identity.create_endpoint(service_id=service.id, url=url,
                                         interface=interface,
                                         region_id=REGION)

    def _nova_argv(self, name, host=None):
        argv = [self.bin('python'), os.path.join(HERE, 'launcher.py'), name,
                '--config-file', self.path('nova.conf')]
        if host:
            argv += ['--config-file', self.path('%s.conf' % host)]
        return argv + ['--log-file', self.path('logs', '%s.log' % (
            host or name))]

    def _start_nova(self):
        self.gunicorn('nova-api', 'nova.wsgi.osapi_compute',
                      self.ports['nova-api'], OS_NOVA_CONFIG_DIR=self.workdir,
                      OS_NOVA_CONFIG_FILES='api-paste.ini;nova.conf')
        for name in ('nova-conductor', 'nova-scheduler'):
            self.spawn(name, self._nova_argv(name))
        for host in self.hosts:
            self.start_compute(host)

    def start_compute(self, host):
        return self.spawn(host, self._nova_argv('nova-compute', host))

    def _wait_for_computes(self):
        conn = self.connect()
        self.wait_for_services(conn, 'up', timeout=600)
        self.run([self.bin('nova-manage'), '--config-file',
                  self.path('nova.conf'), 'cell_v2', 'discover_hosts'])
        wait_until(lambda: len([
            h for h in conn.compute.hypervisors()]) == len(self.hosts),
            120, 'hypervisors listed', check=self.check_processes)
        flavor = conn.compute.create_flavor(name='lab.small', vcpus=1,
                                            ram=512, disk=1)
        self.flavor_id = flavor.id

    def wait_for_services(self, conn, state, hosts=None, timeout=120):
        hosts = set(hosts or self.hosts)

        def reached():
            found = {s.host: s.state for s in
                     conn.compute.services(binary='nova-compute')}
            return all(found.get(h) == state for h in hosts)
        wait_until(reached, timeout, 'nova-compute %s on %s' % (
            state, ', '.join(sorted(hosts))), interval=1,
            check=self.check_processes)

    # -- host access -------------------------------------------------------

    def stop_process(self, name, sig=signal.SIGTERM, timeout=30):
        with self._lock:
            proc = self.procs.pop(name, None)
        if proc is None:
            return
        _kill_group(proc, sig, timeout)

    def restart_compute(self, host):
        """What a reboot does to the host's nova-compute: stopped, seen
        down by Nova (a real reboot outlasts service_down_time), started."""
        self.stop_process(host)
        self.wait_for_services(self.connect(), 'down', hosts=[host],
                               timeout=120)
        self.start_compute(host)

    def kill_compute(self, host):
        """SIGKILL the host's nova-compute (not restarted)."""
        self.stop_process(host, sig=signal.SIGKILL)

    def set_migration_seconds(self, seconds):
        with open(self.migration_seconds_file, 'w') as f:
            f.write(str(seconds))

    # -- measures and teardown ---------------------------------------------

    def memory_mb(self):
        """Resident memory of every process of the lab, in MiB."""
        with self._lock:
            groups = {os.getpgid(p.pid) for p in self.procs.values()
                      if p.poll() is None}
        total = 0
        for pid in filter(str.isdigit, os.listdir('/proc')):
            try:
                if os.getpgid(int(pid)) not in groups:
                    continue
                with open('/proc/%s/status' % pid) as f:
                    for line in f:
                        if line.startswith('VmRSS:'):
                            total += int(line.split()[1])
            except (OSError, ProcessLookupError):
                continue
        return total // 1024

    def stop(self):
        """Kill every lab process and drop what the lab created; never
        raises (teardown also runs after a failed start)."""
        with self._lock:
            procs = list(self.procs.items())
            self.procs.clear()
        threads = [threading.Thread(target=_kill_group,
                                    args=(p, signal.SIGTERM, 15))
                   for _, p in procs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self.standin is not None:
            self.standin.stop()
            self.standin = None
        if self._created.pop('databases', False):
            try:
                with self._admin_engine().connect() as conn:
                    for name in DATABASES:
                        conn.execute(sa.text('DROP DATABASE IF EXISTS %s_%s'
                                             % (self.prefix, name)))
            except Exception as e:
                print('nova lab: could not drop databases: %s' % e,
                      file=sys.stderr)
        if self._created.pop('vhost', False):
            for argv in (('delete_vhost', self.prefix),
                         ('delete_user', self.prefix)):
                try:
                    self._rabbitmqctl(*argv)
                except Exception as e:
                    print('nova lab: %s' % e, file=sys.stderr)


def _kill_group(proc, sig, timeout):
    """Signal the process group; SIGKILL it if still there after timeout."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
