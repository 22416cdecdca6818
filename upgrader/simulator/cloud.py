"""The simulated cloud's behaviour: services, live and cold migrations,
instance power, host agent jobs.

Time is lazy: an operation records when it started and when it ends (its
simulated duration divided by the time scale); :meth:`Cloud.advance` first
applies everything due, so any process reading the state file sees the same
cloud without a background thread. Errors are upgrader exceptions whose class
the HTTP layer maps to a status: InvalidInput 400, NotFound 404, Conflict 409.
"""

import contextlib
import json
import time
import uuid

from upgrader.common import exception
from upgrader.simulator import controlplane
from upgrader.simulator import faults
from upgrader.simulator import generate
from upgrader.simulator import referee
from upgrader.simulator import state

LIVE = 'live-migration'
COLD = 'migration'
# Nova's migration statuses while each kind is in flight (the destination
# holds the instance's allocation).
LIVE_ACTIVE = ('queued', 'preparing', 'running')
COLD_ACTIVE = ('pre-migrating', 'migrating', 'post-migrating')
ACTIVE_MIGRATION = LIVE_ACTIVE + COLD_ACTIVE
# A cold migration that landed: the instance is VERIFY_RESIZE on its
# destination and the source keeps its allocation until confirmResize.
FINISHED = 'finished'
# Packages whose new version is only in use after a reboot.
REBOOT_REQUIRED = frozenset(['linux-image'])
RESOURCES = ('VCPU', 'MEMORY_MB', 'DISK_GB')
POWER_SHUTDOWN = 4
POWER_RUNNING = 1
# vm_state -> (status, power state) of an instance at rest.
AT_REST = {'active': ('ACTIVE', POWER_RUNNING),
           'stopped': ('SHUTOFF', POWER_SHUTDOWN)}


def _marks(values):
    """'(?, ?, ?)' for an SQL IN over ``values``."""
    return '(%s)' % ', '.join('?' * len(values))


@contextlib.contextmanager
def open_cloud(path, time_scale=None, now=None):
    """The cloud of a state file, advanced to now, in one transaction."""
    conn = state.connect(path)
    try:
        with state.transaction(conn):
            cloud = Cloud(conn, time_scale=time_scale, now=now)
            cloud.advance()
            yield cloud
    finally:
        conn.close()


class Cloud:
    """Operations on the state, inside the caller's transaction."""

    def __init__(self, conn, time_scale=None, now=None):
        self.conn = conn
        self.now = time.time() if now is None else now
        self.time_scale = float(time_scale or
                                state.get_meta(conn, 'time_scale', 1000.0))
        # Clouds created before a duration existed get its default.
        self.durations = dict(generate.DEFAULT_DURATIONS,
                              **state.get_meta(conn, 'durations', {}))
        self.seed = state.get_meta(conn, 'seed', 0)

    def _q(self, sql, *args):
        return self.conn.execute(sql, args)

    def _wall(self, simulated_seconds):
        return simulated_seconds / self.time_scale

    # -- time ----------------------------------------------------------------

    def advance(self):
        """Apply every migration and job end that is due, in time order."""
        due = [(m['ends_at'], 0, m['id']) for m in self._q(
            'SELECT id, ends_at FROM migrations WHERE status IN %s AND '
            'stuck = 0 AND ends_at <= ?' % _marks(ACTIVE_MIGRATION),
            *ACTIVE_MIGRATION, self.now)]
        due += [(j['ends_at'], 1, j['id']) for j in self._q(
            "SELECT id, ends_at FROM jobs WHERE status = 'running' AND "
            "outcome != 'never' AND ends_at <= ?", self.now)]
        for at, kind, item in sorted(due):
            if kind == 0:
                mig = self._q('SELECT * FROM migrations WHERE id = ?',
                              item).fetchone()
                if mig['status'] in ACTIVE_MIGRATION:
                    self._finish_migration(mig, at)
            else:
                job = self._q('SELECT * FROM jobs WHERE id = ?',
                              item).fetchone()
                if job['status'] == 'running':
                    self._finish_job(job, at)
        self._update_migration_phases()

    def _update_migration_phases(self):
        for m in self._q('SELECT * FROM migrations WHERE status IN %s'
                         % _marks(ACTIVE_MIGRATION),
                         *ACTIVE_MIGRATION).fetchall():
            duration = max(m['ends_at'] - m['started_at'], 1e-9)
            done = (self.now - m['started_at']) / duration
            phases = LIVE_ACTIVE if m['migration_type'] == LIVE else (
                COLD_ACTIVE)
            phase = phases[0 if done < 0.05 else 1 if done < 0.15 else 2]
            if phase != m['status']:
                self._q('UPDATE migrations SET status = ?, updated_at = ? '
                        'WHERE id = ?', phase, self.now, m['id'])

    # -- hosts and services --------------------------------------------------

    def hosts(self):
        return self._q('SELECT * FROM hosts ORDER BY name').fetchall()

    def host(self, name):
        row = self._q('SELECT * FROM hosts WHERE name = ?', name).fetchone()
        if row is None:
            raise exception.NotFound('Host %s could not be found.' % name)
        return row

    @staticmethod
    def is_up(host):
        return (host['power'] == 'up' and not host['forced_down']
                and not host['service_broken'])

    @classmethod
    def in_service(cls, host):
        return cls.is_up(host) and host['status'] == 'enabled'

    def set_service(self, name, enabled, reason=None, forced_down=None):
        """Enable or disable a host's nova-compute, or force it down."""
        before = self.host(name)
        status = before['status'] if enabled is None else (
            'enabled' if enabled else 'disabled')
        reason = None if status == 'enabled' else (
            reason if enabled is not None else before['disabled_reason'])
        forced = (before['forced_down'] if forced_down is None
                  else int(forced_down))
        self._q('UPDATE hosts SET status = ?, disabled_reason = ?, '
                'forced_down = ?, updated_at = ? WHERE name = ?',
                status, reason, forced, self.now, name)
        after = self.host(name)
        if status != before['status']:
            referee.event(self.conn, self.now, 'service_' + status,
                          'nova-compute on %s %s (%s)' % (name, status,
                                                          reason), host=name)
        if self.in_service(before) and not self.in_service(after):
            referee.check_out_of_service(self.conn, self.now, name)
        return after

    def usage(self, name=None):
        """Allocated resources per host: instances on it plus incoming ones.

        Like Placement during a migration, both the source (held by the
        migration) and the destination (held by the instance) are allocated,
        until a cold migration is confirmed.
        """
        usage = {h['name']: dict.fromkeys(RESOURCES, 0) for h in self.hosts()}
        rows = list(self._q(
            'SELECT i.host AS host, f.vcpus, f.ram, f.disk + f.ephemeral AS '
            'disk FROM instances i JOIN flavors f ON f.id = i.flavor_id'))
        rows += list(self._q(
            'SELECT m.dest_compute AS host, f.vcpus, f.ram, f.disk + '
            'f.ephemeral AS disk FROM migrations m JOIN flavors f ON '
            'f.id = m.flavor_id WHERE m.status IN %s'
            % _marks(ACTIVE_MIGRATION), *ACTIVE_MIGRATION))
        rows += list(self._q(
            'SELECT m.source_compute AS host, f.vcpus, f.ram, f.disk + '
            'f.ephemeral AS disk FROM migrations m JOIN flavors f ON '
            'f.id = m.flavor_id WHERE m.status = ? AND m.migration_type = ?',
            FINISHED, COLD))
        for r in rows:
            u = usage[r['host']]
            u['VCPU'] += r['vcpus']
            u['MEMORY_MB'] += r['ram']
            u['DISK_GB'] += r['disk']
        return usage if name is None else usage[name]

    @staticmethod
    def capacity(host):
        """Schedulable amount per resource: (total - reserved) * ratio."""
        return {
            'VCPU': (host['vcpus'] - host['reserved_vcpus'])
            * host['vcpu_ratio'],
            'MEMORY_MB': (host['memory_mb'] - host['reserved_memory_mb'])
            * host['ram_ratio'],
            'DISK_GB': (host['disk_gb'] - host['reserved_disk_gb'])
            * host['disk_ratio'],
        }

    def _shortfall(self, host, flavor, usage=None):
        usage = usage or self.usage(host['name'])
        need = {'VCPU': flavor['vcpus'], 'MEMORY_MB': flavor['ram'],
                'DISK_GB': flavor['disk'] + flavor['ephemeral']}
        cap = self.capacity(host)
        return [r for r in RESOURCES if usage[r] + need[r] > cap[r]]

    # -- instances -----------------------------------------------------------

    def instance(self, uuid_):
        row = self._q('SELECT * FROM instances WHERE uuid = ?',
                      uuid_).fetchone()
        if row is None:
            raise exception.NotFound('Instance %s could not be found.'
                                     % uuid_)
        return row

    def flavor(self, flavor_id):
        return self._q('SELECT * FROM flavors WHERE id = ?',
                       flavor_id).fetchone()

    def groups_of(self, instance_uuid):
        return self._q(
            'SELECT g.* FROM server_groups g JOIN server_group_members m ON '
            'm.group_uuid = g.uuid WHERE m.instance_uuid = ?',
            instance_uuid).fetchall()

    def _anti_affinity_conflicts(self, instance_uuid, host_name):
        """Other members of the instance's anti-affinity groups on a host."""
        return [r['uuid'] for r in self._q(
            "SELECT DISTINCT i.uuid FROM server_group_members me "
            "JOIN server_groups g ON g.uuid = me.group_uuid "
            "JOIN server_group_members other ON other.group_uuid = g.uuid "
            "JOIN instances i ON i.uuid = other.instance_uuid "
            "WHERE me.instance_uuid = ? AND other.instance_uuid != ? "
            "AND g.policy = 'anti-affinity' AND (i.host = ? OR i.uuid IN "
            "(SELECT instance_uuid FROM migrations WHERE dest_compute = ? "
            "AND status IN %s))" % _marks(ACTIVE_MIGRATION),
            instance_uuid, instance_uuid, host_name, host_name,
            *ACTIVE_MIGRATION)]

    # -- live migration ------------------------------------------------------

    def live_migrate(self, instance_uuid, host=None, force=False):
        """Start a live migration; return its row.

        Raises Conflict when the instance cannot migrate now, InvalidInput
        when the destination is not acceptable (as Nova's pre-checks do).
        """
        inst = self.instance(instance_uuid)
        if inst['status'] != 'ACTIVE' or inst['task_state']:
            raise exception.Conflict(
                "Cannot 'os-migrateLive' instance %s while it is in "
                "vm_state %s, task_state %s" % (instance_uuid,
                                                inst['vm_state'],
                                                inst['task_state']))
        source = self.host(inst['host'])
        if not self.is_up(source):
            raise exception.Conflict('Compute service of %s is unavailable '
                                     'at this time.' % source['name'])
        if not inst['live_migratable']:
            reason = json.loads(inst['metadata']).get(
                generate.NO_LIVE_MIGRATION_KEY, 'not live-migratable')
            raise exception.InvalidInput(
                'Migration pre-check error: instance %s cannot be '
                'live-migrated: %s' % (instance_uuid, reason))
        flavor = self.flavor(inst['flavor_id'])
        if host is None:
            dest = self._schedule(inst, flavor)
        else:
            dest = self._check_destination(inst, flavor, host, force)
        return self._start_migration(inst, flavor, source, dest, LIVE)

    def cold_migrate(self, instance_uuid, host=None):
        """Start a cold migration (Nova's ``migrate`` action); return it.

        An ACTIVE instance is powered off, copied and started again on the
        destination, a SHUTOFF one stays off: either way it ends in
        VERIFY_RESIZE there, until :meth:`confirm_resize`.
        """
        inst = self.instance(instance_uuid)
        if inst['status'] not in ('ACTIVE', 'SHUTOFF') or inst['task_state']:
            raise exception.Conflict(
                "Cannot 'migrate' instance %s while it is in vm_state %s, "
                "task_state %s" % (instance_uuid, inst['vm_state'],
                                   inst['task_state']))
        source = self.host(inst['host'])
        if not self.is_up(source):
            raise exception.Conflict('Compute service of %s is unavailable '
                                     'at this time.' % source['name'])
        flavor = self.flavor(inst['flavor_id'])
        if host is None:
            dest = self._schedule(inst, flavor)
        else:
            dest = self._check_destination(inst, flavor, host, False)
        return self._start_migration(inst, flavor, source, dest, COLD)

    def confirm_resize(self, instance_uuid):
        """Confirm a finished cold migration: the source frees its share."""
        mig = self._awaiting_confirm(instance_uuid, 'confirmResize')
        self._q('UPDATE migrations SET status = ?, updated_at = ? WHERE '
                'id = ?', 'confirmed', self.now, mig['id'])
        self._at_rest(instance_uuid, mig['old_vm_state'])
        referee.event(self.conn, self.now, 'migration_confirmed',
                      'cold migration %d of %s confirmed'
                      % (mig['id'], instance_uuid),
                      host=mig['dest_compute'], instance=instance_uuid)

    def revert_resize(self, instance_uuid):
        """Revert a finished cold migration: back on its source."""
        mig = self._awaiting_confirm(instance_uuid, 'revertResize')
        source = self.host(mig['source_compute'])
        self._q('UPDATE migrations SET status = ?, updated_at = ? WHERE '
                'id = ?', 'reverted', self.now, mig['id'])
        self._q('UPDATE instances SET host = ?, az = ? WHERE uuid = ?',
                source['name'], source['az'], instance_uuid)
        self._at_rest(instance_uuid, mig['old_vm_state'])
        referee.event(self.conn, self.now, 'migration_reverted',
                      'cold migration %d of %s reverted to %s'
                      % (mig['id'], instance_uuid, source['name']),
                      host=source['name'], instance=instance_uuid)

    def _awaiting_confirm(self, instance_uuid, action):
        inst = self.instance(instance_uuid)
        if inst['status'] != 'VERIFY_RESIZE':
            raise exception.Conflict(
                "Cannot '%s' instance %s while it is in vm_state %s"
                % (action, instance_uuid, inst['vm_state']))
        found = self.migrations(instance_uuid=instance_uuid,
                                status=FINISHED, migration_type=COLD)
        if not found:
            raise exception.NotFound('Instance has not been resized.')
        return found[0]

    def _at_rest(self, instance_uuid, vm_state):
        status, power = AT_REST[vm_state or 'active']
        self._q('UPDATE instances SET status = ?, vm_state = ?, task_state '
                '= NULL, power_state = ?, updated_at = ? WHERE uuid = ?',
                status, vm_state or 'active', power, self.now, instance_uuid)

    def set_power(self, instance_uuid, on):
        """os-start / os-stop: at once (Nova takes seconds, asynchronously).

        A stopped instance is not running: a reboot of its host does not
        kill it (see :meth:`_kill_instances`).
        """
        inst = self.instance(instance_uuid)
        wanted_from = 'SHUTOFF' if on else 'ACTIVE'
        if inst['status'] != wanted_from or inst['task_state']:
            raise exception.Conflict(
                "Cannot '%s' instance %s while it is in vm_state %s"
                % ('start' if on else 'stop', instance_uuid,
                   inst['vm_state']))
        if on and not self.is_up(self.host(inst['host'])):
            raise exception.Conflict('Compute service of %s is unavailable '
                                     'at this time.' % inst['host'])
        self._at_rest(instance_uuid, 'active' if on else 'stopped')
        referee.event(self.conn, self.now,
                      'instance_started' if on else 'instance_stopped',
                      'instance %s %s on %s' % (
                          instance_uuid, 'started' if on else 'stopped',
                          inst['host']),
                      host=inst['host'], instance=instance_uuid)

    def _check_destination(self, inst, flavor, host, force):
        try:
            dest = self.host(host)
        except exception.NotFound:
            raise exception.InvalidInput('Compute host %s could not be '
                                         'found.' % host)
        if dest['name'] == inst['host']:
            raise exception.InvalidInput(
                'Unable to migrate instance (%s) to current host (%s).'
                % (inst['uuid'], host))
        if not self.is_up(dest):
            raise exception.InvalidInput('Compute service of %s is '
                                         'unavailable at this time.' % host)
        if force:
            return dest
        if dest['status'] != 'enabled':
            raise exception.InvalidInput(
                'No valid host was found. Compute service of %s is disabled '
                '(%s).' % (host, dest['disabled_reason']))
        short = self._shortfall(dest, flavor)
        if short:
            raise exception.InvalidInput(
                'No valid host was found. Not enough %s on host %s for '
                'instance %s.' % ('/'.join(short), host, inst['uuid']))
        if self._anti_affinity_conflicts(inst['uuid'], host):
            raise exception.InvalidInput(
                'No valid host was found. Host %s holds another member of '
                'an anti-affinity server group of instance %s.'
                % (host, inst['uuid']))
        return dest

    def _schedule(self, inst, flavor):
        """A destination as the scheduler would pick: most free RAM."""
        usage = self.usage()
        best = None
        for h in self.hosts():
            if (h['name'] == inst['host'] or not self.in_service(h)
                    or self._shortfall(h, flavor, usage[h['name']])
                    or self._anti_affinity_conflicts(inst['uuid'],
                                                     h['name'])):
                continue
            free = self.capacity(h)['MEMORY_MB'] - usage[h['name']][
                'MEMORY_MB']
            key = (h['az'] != inst['az'], -free, h['name'])
            if best is None or key < best[0]:
                best = (key, h)
        if best is None:
            raise exception.InvalidInput(
                'No valid host was found. There are not enough hosts '
                'available for instance %s.' % inst['uuid'])
        return best[1]

    def _start_migration(self, inst, flavor, source, dest, kind):
        cur = self._q('SELECT COALESCE(MAX(id), 0) + 1 FROM migrations')
        seq = cur.fetchone()[0]
        hosts = (source['name'], dest['name'])
        stuck = faults.trigger(self.conn, 'migration_stuck', 'migration:%d'
                               % seq, hosts=hosts, instance=inst['uuid'])
        failed = None if stuck else faults.trigger(
            self.conn, 'migration_fail', 'migration:%d' % seq, hosts=hosts,
            instance=inst['uuid'])
        if kind == LIVE:
            seconds = (self.durations['live_migration_base']
                       + self.durations['live_migration_per_gb']
                       * flavor['ram'] / 1024.0)
            status, task_state = 'MIGRATING', 'migrating'
        else:
            # The disk is copied, not the memory.
            seconds = (self.durations['cold_migration_base']
                       + self.durations['cold_migration_per_gb']
                       * (flavor['disk'] + flavor['ephemeral']))
            status, task_state = 'RESIZE', 'resize_migrating'
        mig_uuid = str(uuid.uuid4())
        self._q('INSERT INTO migrations (id, uuid, instance_uuid, '
                'migration_type, old_vm_state, source_compute, dest_compute, '
                'status, outcome, stuck, started_at, ends_at, flavor_id, '
                'project_id, user_id, error, created_at, updated_at) VALUES '
                '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', seq,
                mig_uuid, inst['uuid'], kind, inst['vm_state'],
                source['name'], dest['name'],
                LIVE_ACTIVE[0] if kind == LIVE else COLD_ACTIVE[0],
                'error' if failed else 'completed', 1 if stuck else 0,
                self.now, self.now + self._wall(seconds), flavor['id'],
                inst['project_id'], inst['user_id'],
                'simulated fault %d' % failed['id'] if failed else None,
                self.now, self.now)
        self._q('UPDATE instances SET status = ?, task_state = ?, '
                'updated_at = ? WHERE uuid = ?', status, task_state,
                self.now, inst['uuid'])
        referee.event(self.conn, self.now, 'migration_started',
                      '%s %d of %s from %s to %s'
                      % (_kind(kind), seq, inst['uuid'], source['name'],
                         dest['name']),
                      host=source['name'], instance=inst['uuid'])
        return self.migration(seq)

    def migration(self, mig_id):
        row = self._q('SELECT * FROM migrations WHERE id = ?',
                      mig_id).fetchone()
        if row is None:
            raise exception.NotFound('Migration %s could not be found.'
                                     % mig_id)
        return row

    def migrations(self, instance_uuid=None, host=None, status=None,
                   migration_type=None, active_only=False):
        sql, args = 'SELECT * FROM migrations WHERE 1 = 1', []
        if instance_uuid:
            sql += ' AND instance_uuid = ?'
            args.append(instance_uuid)
        if host:
            sql += ' AND (source_compute = ? OR dest_compute = ?)'
            args += [host, host]
        if status:
            sql += ' AND status = ?'
            args.append(status)
        if migration_type:
            sql += ' AND migration_type = ?'
            args.append(migration_type)
        if active_only:
            sql += ' AND status IN %s' % _marks(ACTIVE_MIGRATION)
            args += list(ACTIVE_MIGRATION)
        return self.conn.execute(sql + ' ORDER BY created_at DESC, id DESC',
                                 args).fetchall()

    def abort_migration(self, instance_uuid, mig_id):
        """Abort a live migration in progress (Nova: 'cancelled')."""
        self.instance(instance_uuid)
        mig = self._q('SELECT * FROM migrations WHERE id = ? AND '
                      'instance_uuid = ?', mig_id, instance_uuid).fetchone()
        if mig is None:
            raise exception.NotFound('Migration %s for server %s could not '
                                     'be found.' % (mig_id, instance_uuid))
        if mig['migration_type'] != LIVE:
            raise exception.InvalidInput(
                'Migration %s for server %s is not a live migration.'
                % (mig_id, instance_uuid))
        if mig['status'] not in ACTIVE_MIGRATION:
            raise exception.Conflict(
                'Migration %s state of instance %s is %s. Cannot abort live '
                'migration that is not in queued, preparing or running '
                'state.' % (mig_id, instance_uuid, mig['status']))
        self._fail_migration(mig, self.now, 'cancelled', 'aborted')

    def _finish_migration(self, mig, at):
        if mig['outcome'] != 'completed':
            self._fail_migration(mig, at, 'error', mig['error'])
            return
        dest = self.host(mig['dest_compute'])
        if mig['migration_type'] == LIVE:
            status, vm_state, done = 'ACTIVE', 'active', 'completed'
        else:
            status, vm_state, done = 'VERIFY_RESIZE', 'resized', FINISHED
        power = (POWER_SHUTDOWN if mig['old_vm_state'] == 'stopped'
                 else POWER_RUNNING)
        self._q('UPDATE instances SET host = ?, az = ?, status = ?, '
                'vm_state = ?, power_state = ?, task_state = NULL, '
                'updated_at = ? WHERE uuid = ?', dest['name'], dest['az'],
                status, vm_state, power, at, mig['instance_uuid'])
        self._q('UPDATE migrations SET status = ?, updated_at = ? '
                'WHERE id = ?', done, at, mig['id'])
        referee.event(self.conn, at, 'migration_' + done,
                      '%s %d of %s to %s %s'
                      % (_kind(mig['migration_type']), mig['id'],
                         mig['instance_uuid'], dest['name'], done),
                      host=dest['name'], instance=mig['instance_uuid'])
        self._check_landing(mig, dest, at)

    def _check_landing(self, mig, dest, at):
        usage = self.usage(dest['name'])
        cap = self.capacity(dest)
        over = {r: {'used': usage[r], 'capacity': cap[r]}
                for r in RESOURCES if usage[r] > cap[r]}
        if over:
            referee.record(
                self.conn, referee.OVERCOMMITTED, at,
                'host %s overcommitted after migration %d landed: %s'
                % (dest['name'], mig['id'], ', '.join(
                    '%s %g > %g' % (r, v['used'], v['capacity'])
                    for r, v in sorted(over.items()))),
                host=dest['name'], instance=mig['instance_uuid'],
                details={'resources': over, 'migration': mig['id']})
        others = self._anti_affinity_conflicts(mig['instance_uuid'],
                                               dest['name'])
        if others:
            referee.record(
                self.conn, referee.ANTI_AFFINITY, at,
                'instance %s landed on %s beside %s of its anti-affinity '
                'group' % (mig['instance_uuid'], dest['name'],
                           ', '.join(others)),
                host=dest['name'], instance=mig['instance_uuid'],
                details={'others': others, 'migration': mig['id']})

    def _fail_migration(self, mig, at, status, error):
        self._q('UPDATE migrations SET status = ?, error = ?, updated_at = ? '
                'WHERE id = ?', status, error, at, mig['id'])
        inst = self.instance(mig['instance_uuid'])
        if inst['status'] in ('MIGRATING', 'RESIZE'):
            # Back at rest on its source, as it was before.
            self._at_rest(inst['uuid'], mig['old_vm_state'])
        referee.event(self.conn, at, 'migration_' + status,
                      '%s %d of %s: %s (%s)'
                      % (_kind(mig['migration_type']), mig['id'],
                         mig['instance_uuid'], status, error),
                      host=mig['source_compute'],
                      instance=mig['instance_uuid'])

    # -- host agent ----------------------------------------------------------

    def packages(self, name):
        return {r['name']: (r['version'], r['running_version'])
                for r in self._q('SELECT * FROM packages WHERE host = ? '
                                 'ORDER BY name', name)}

    def running_job(self, name):
        return self._q("SELECT * FROM jobs WHERE host = ? AND status = "
                       "'running'", name).fetchone()

    def job(self, job_id):
        row = self._q('SELECT * FROM jobs WHERE id = ?', job_id).fetchone()
        if row is None:
            raise exception.NotFound('Job %s could not be found.' % job_id)
        return row

    def jobs(self, host):
        return self._q('SELECT * FROM jobs WHERE host = ? ORDER BY '
                       'started_at, id', host).fetchall()

    def _check_reachable(self, host):
        if host['power'] != 'up':
            raise exception.Conflict('Host %s is unreachable.'
                                     % host['name'])
        job = self.running_job(host['name'])
        if job is not None:
            raise exception.Conflict('Host %s is busy with job %s (%s).'
                                     % (host['name'], job['id'],
                                        job['kind']))

    def install_packages(self, name, packages):
        """Start installing packages (name -> version); return the job."""
        host = self.host(name)
        if (not isinstance(packages, dict) or not packages or not all(
                isinstance(k, str) and k and isinstance(v, str) and v
                for k, v in packages.items())):
            raise exception.InvalidInput(
                'packages must be a non-empty object of name: version')
        self._check_reachable(host)
        fault = None
        for package in sorted(packages):
            fault = faults.trigger(self.conn, 'package_fail', 'install:%s:%s'
                                   % (name, package), hosts=(name,),
                                   package=package)
            if fault:
                error = ('E: failed to install %s=%s on %s (simulated fault '
                         '%d)' % (package, packages[package], name,
                                  fault['id']))
                break
        seconds = self.durations['package_install'] * len(packages)
        return self._start_job(name, 'install', {'packages': packages},
                               'failed' if fault else 'succeeded',
                               error if fault else None, seconds)

    def reboot(self, name):
        """Reboot a host now: it goes down at once; return the job."""
        host = self.host(name)
        self._check_reachable(host)
        never = faults.trigger(self.conn, 'reboot_no_return', 'reboot:%s:%d'
                               % (name, host['reboots']), hosts=(name,))
        broken = not never and faults.trigger(
            self.conn, 'service_no_start', 'boot:%s:%d'
            % (name, host['reboots']), hosts=(name,))
        job = self._start_job(name, 'reboot',
                              {'service_broken': bool(broken)},
                              'never' if never else 'succeeded', None,
                              self.durations['reboot'])
        self._q("UPDATE hosts SET power = 'rebooting', reboots = reboots + 1, "
                'updated_at = ? WHERE name = ?', self.now, name)
        referee.event(self.conn, self.now, 'host_reboot',
                      'host %s rebooting (job %s)' % (name, job['id']),
                      host=name)
        self._kill_instances(name, job['id'])
        for mig in self.migrations(host=name, active_only=True):
            self._fail_migration(mig, self.now, 'error',
                                 'host %s rebooted' % name)
        if self.in_service(host):
            referee.check_out_of_service(self.conn, self.now, name)
        return job

    def _running(self, name):
        """Instances whose guest runs on host ``name``: every one but those
        powered off (SHUTOFF, or a stopped one being cold-migrated) or in
        ERROR. A reboot kills these, and only these."""
        return self._q("SELECT * FROM instances WHERE host = ? AND status "
                       "NOT IN ('SHUTOFF', 'ERROR') AND power_state != ? "
                       "ORDER BY seq", name, POWER_SHUTDOWN).fetchall()

    def _kill_instances(self, name, job_id):
        for inst in self._running(name):
            self._q("UPDATE instances SET status = 'SHUTOFF', vm_state = "
                    "'stopped', task_state = NULL, power_state = ?, "
                    "updated_at = ? WHERE uuid = ?", POWER_SHUTDOWN,
                    self.now, inst['uuid'])
            referee.record(
                self.conn, referee.INSTANCE_KILLED, self.now,
                'instance %s (%s) was %s on %s when it rebooted'
                % (inst['uuid'], inst['name'], inst['status'], name),
                host=name, instance=inst['uuid'],
                details={'name': inst['name'], 'status': inst['status'],
                         'job': job_id})

    def _start_job(self, name, kind, params, outcome, error, seconds):
        job_id = str(uuid.uuid4())
        self._q("INSERT INTO jobs (id, host, kind, status, params, outcome, "
                "error, started_at, ends_at) VALUES (?, ?, ?, 'running', ?, "
                "?, ?, ?, ?)", job_id, name, kind,
                json.dumps(params, sort_keys=True), outcome, error, self.now,
                self.now + self._wall(seconds))
        return self.job(job_id)

    def _finish_job(self, job, at):
        name = job['host']
        if job['outcome'] == 'failed':
            self._q("UPDATE jobs SET status = 'failed', finished_at = ? "
                    "WHERE id = ?", at, job['id'])
            referee.event(self.conn, at, 'job_failed', '%s job %s on %s: %s'
                          % (job['kind'], job['id'], name, job['error']),
                          host=name)
            return
        if job['kind'] == 'install':
            packages = json.loads(job['params'])['packages']
            for package, version in sorted(packages.items()):
                self._install(name, package, version)
            if 'nova-compute' in packages:
                self._restart_compute(name, at)
                controlplane.check_rpc(self.conn, at, 'installed %s %s on %s'
                                       % (controlplane.COMPUTE,
                                          packages['nova-compute'], name))
        else:
            host = self.host(name)
            broken = json.loads(job['params']).get('service_broken', False)
            self._q("UPDATE hosts SET power = 'up', boot_id = ?, booted_at = "
                    "?, service_broken = ?, updated_at = ? WHERE name = ?",
                    generate.derived_uuid(self.seed, 'boot', name,
                                          host['reboots']), at, int(broken),
                    at, name)
            self._q('UPDATE packages SET running_version = version WHERE '
                    'host = ?', name)
        self._q("UPDATE jobs SET status = 'succeeded', finished_at = ? "
                "WHERE id = ?", at, job['id'])
        referee.event(self.conn, at, 'job_succeeded', '%s job %s on %s done'
                      % (job['kind'], job['id'], name), host=name)

    def _restart_compute(self, name, at):
        """nova-compute restarts: live migrations in flight fail."""
        for mig in self.migrations(host=name, active_only=True):
            self._fail_migration(mig, at, 'error',
                                 'nova-compute restarted on %s' % name)
        running = [r['uuid'] for r in self._running(name)]
        if running:
            referee.record(
                self.conn, referee.SERVICE_RESTARTED, at,
                'nova-compute restarted on %s with %d instance(s) on it'
                % (name, len(running)), host=name,
                details={'instances': running})

    def _install(self, name, package, version):
        running = version
        if package in REBOOT_REQUIRED:
            row = self._q('SELECT running_version FROM packages WHERE host = '
                          '? AND name = ?', name, package).fetchone()
            running = row['running_version'] if row else version
        self._q('INSERT OR REPLACE INTO packages (host, name, version, '
                'running_version) VALUES (?, ?, ?, ?)', name, package,
                version, running)


def _kind(migration_type):
    return 'live migration' if migration_type == LIVE else 'cold migration'


def read_report(state_file):
    """The referee's report of the cloud in ``state_file``, as of now."""
    conn = state.connect(state_file)
    try:
        with state.transaction(conn):
            cloud = Cloud(conn)
            cloud.advance()
            return referee.report(conn, cloud.now)
    finally:
        conn.close()
