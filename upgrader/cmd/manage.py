"""upgrader-manage: the operator's command line, in the style of nova-manage.

    upgrader-manage [--config-file FILE] <category> <action> [options]

Exit codes: 0 ok, 1 finished with warnings or work remaining, 2 failed,
255 unexpected error.
"""

import datetime
import sys
import time

from oslo_utils import timeutils

from upgrader import api
from upgrader.cmd import common
from upgrader.cmd import progress
from upgrader.cmd.common import args
from upgrader.common import exception
from upgrader.db import migration
from upgrader.drivers import compute
from upgrader.plan import releases
from upgrader.plan import train
from upgrader.report import html as report_html


class CloudCommands:
    """Read the cloud through the compute driver."""

    @args('--instances', action='store_true',
          help='Also list every instance with its host.')
    @common.format_arg()
    def inventory(self, instances=False, output_format='table'):
        """Print the compute hosts (state, AZ, aggregates, capacity, instances).

        Reads the cloud through the configured compute driver; changes nothing.
        """
        inventory = compute.fetch(common.CONF).get_inventory()
        if output_format == 'json':
            data = inventory.to_dict()
            if not instances:
                del data['instances']
            common.print_json(data)
            return
        common.print_table(
            ['Host', 'Status', 'State', 'AZ', 'Aggregates', 'vCPU used/cap',
             'RAM MB used/cap', 'Disk GB used/cap', 'Instances'],
            [[h.name, h.status, h.state, h.availability_zone,
              ','.join(h.aggregates), _used_of(h, 'vcpus'),
              _used_of(h, 'memory_mb'), _used_of(h, 'disk_gb'),
              h.instance_count] for h in inventory.hosts])
        print('%d hosts, %d instances, %d server groups'
              % (len(inventory.hosts), len(inventory.instances),
                 len(inventory.server_groups)))
        if instances:
            common.print_table(
                ['UUID', 'Name', 'Host', 'Status', 'Flavor',
                 'Live migration'],
                [[i.uuid, i.name, i.host, i.status, i.flavor_name,
                  'yes' if i.live_migratable
                  else 'no: ' + '; '.join(i.live_migration_blockers)]
                 for i in inventory.instances])


def _used_of(host, resource):
    return '%g/%g' % (getattr(host.used, resource),
                      getattr(host.capacity, resource))


class DbCommands:
    """Create or upgrade upgrader's own database schema."""

    @args('--version', dest='revision', metavar='REVISION',
          help='Upgrade to this revision instead of the latest.')
    def sync(self, revision=None):
        """Create or upgrade the schema of upgrader's tables.

        Creates the SQLite file (and its directory) when needed. Never
        downgrades.
        """
        before = migration.version()
        after = migration.upgrade(revision)
        if before == after:
            print('Database schema already at revision %s.' % after)
        else:
            print('Database schema upgraded from %s to revision %s.'
                  % (before or 'nothing', after))

    def version(self):
        """Print the schema revision of the database ("none" if empty).

        Exit code 1 (and a warning on stderr) when it is not the revision
        this version of upgrader expects.
        """
        current = migration.version()
        print(current or 'none')
        expected = migration.head()
        if current != expected:
            print('WARNING: %s' % exception.DatabaseNotSynced(
                current=current or 'no schema', expected=expected),
                file=sys.stderr)
            return common.EXIT_WARNING


def _parse_components(pairs):
    """['nova=29.1.0', ...] -> {'nova': '29.1.0'}; raises InvalidInput."""
    components = {}
    for pair in pairs or ():
        component, sep, version = pair.partition('=')
        component, version = component.strip(), version.strip()
        if not sep or not component or not version:
            raise exception.InvalidInput(
                reason='--component %r: expected NAME=VERSION, e.g. '
                       'nova=29.1.0' % pair)
        if component in components:
            raise exception.InvalidInput(
                reason='component %s given twice' % component)
        components[component] = version
    return components


def _print_release(release, output_format):
    if output_format == 'json':
        common.print_json(release)
        return
    common.print_table(['Field', 'Value'], [
        [field, release[field]] for field in (
            'name', 'uuid', 'description', 'parent', 'created_at')])
    common.print_table(['Component', 'Version'],
                       sorted(release['components'].items()))


class ReleaseCommands:
    """Releases: named, immutable sets of component versions."""

    @args('release_name', metavar='NAME',
          help='Unique name of the release, e.g. 2024.1-r3.')
    @args('--component', dest='components', action='append',
          metavar='NAME=VERSION', default=[],
          help='A component and its version, e.g. nova=29.1.0; repeat for '
               'each component.')
    @args('--description', help='Free text.')
    @args('--parent', metavar='RELEASE',
          help='Start from the components of this release (name or UUID); '
               'the --component values override them.')
    @common.format_arg()
    def create(self, release_name, components=(), description=None,
               parent=None, output_format='table'):
        """Record a release: a name and the version of each component.

        A release cannot be changed once created: make a new one, for
        instance with --parent and the components that differ.
        """
        versions = _parse_components(components)
        if not versions and parent is None:
            raise exception.InvalidInput(
                reason='give at least one --component NAME=VERSION')
        release = api.create_release(
            common.CONF, release_name, versions, description=description,
            parent=parent)
        _print_release(release, output_format)

    @common.format_arg()
    def list(self, output_format='table'):
        """List the releases, oldest first."""
        releases = api.list_releases(common.CONF)
        if output_format == 'json':
            common.print_json(releases)
            return
        common.print_table(
            ['Name', 'UUID', 'Components', 'Created'],
            [[r['name'], r['uuid'],
              ', '.join('%s=%s' % cv
                        for cv in sorted(r['components'].items())),
              r['created_at'][:19]] for r in releases])

    @args('release_ref', metavar='NAME_OR_UUID', help='The release to show.')
    @common.format_arg()
    def show(self, release_ref, output_format='table'):
        """Show a release and its component versions."""
        _print_release(api.get_release(common.CONF, release_ref),
                       output_format)

    @args('old', metavar='OLD', help='The release moved from.')
    @args('new', metavar='NEW', help='The release moved to.')
    @common.format_arg()
    def diff(self, old, new, output_format='table'):
        """Show what moving from release OLD to NEW changes: components
        added, removed and changed (with both versions).

        Exit code 1 when the two releases have the same components.
        """
        changes = api.release_diff(common.CONF, old, new)
        if output_format == 'json':
            common.print_json(changes)
        else:
            rows = ([[c, '', v, 'added']
                     for c, v in changes['added'].items()]
                    + [[c, v, '', 'removed']
                       for c, v in changes['removed'].items()]
                    + [[c, v['from'], v['to'], 'changed']
                       for c, v in changes['changed'].items()])
            common.print_table(['Component', changes['from'], changes['to'],
                                'Change'], sorted(rows))
            print('%d changed, %d added, %d removed, %d unchanged'
                  % (len(changes['changed']), len(changes['added']),
                     len(changes['removed']), len(changes['unchanged'])))
        if releases.is_empty(changes):
            return common.EXIT_WARNING

    @args('release_ref', metavar='NAME_OR_UUID',
          help='The release the cloud runs now.')
    @args('--note', help='Why (free text), e.g. "installed by hand".')
    def set_current(self, release_ref, note=None):
        """Record that the cloud runs this release now.

        Needed once, for the release the cloud runs before upgrader's first
        rollout; afterwards each rollout that succeeds on every one of its
        hosts records its release by itself.
        """
        deployment = api.set_current_release(common.CONF, release_ref,
                                             note=note)
        print('The cloud runs release %s.' % deployment.release.name)

    @common.format_arg()
    def current(self, output_format='table'):
        """Show the cloud's current release and the releases it ran
        before, with the rollouts that moved it.

        Exit code 1 when no release was ever recorded.
        """
        release, history = api.current_release(common.CONF)
        if output_format == 'json':
            common.print_json({'current': release, 'history': history})
        else:
            print('Current release: %s' % (release['name'] if release
                                           else 'unknown (release '
                                                'set-current NAME)'))
            common.print_table(['Since', 'Release', 'Rollout', 'Note'],
                               [[d['created_at'], d['release'], d['rollout'],
                                 d['note']] for d in history])
        if release is None:
            return common.EXIT_WARNING


class PersistenceCommands:
    """TaskFlow's logbooks: the persisted state of running flows."""

    def sync(self):
        """Create or upgrade the TaskFlow logbook tables ([persistence])."""
        # taskflow is slow to import: only the commands using it load it.
        from upgrader.jobs import persistence
        persistence.upgrade(common.CONF)
        print('TaskFlow persistence schema is current.')

    @args('--older-than', dest='days', type=int, metavar='DAYS',
          help='Age in days (default: [persistence] retention_days).')
    def purge(self, days=None):
        """Delete the logbooks of rollouts that succeeded DAYS ago or more.

        Aborted and failed rollouts keep theirs (they can be resumed); our
        tables keep the record of every rollout.
        """
        purged = api.purge_logbooks(common.CONF, older_than_days=days)
        print('Purged the logbooks of %d rollout(s)%s' % (
            len(purged), ': ' + ', '.join(purged) if purged else '.'))


def _print_train(rollout, stages, output_format):
    """A release train's stages (see api.plan_release)."""
    if output_format == 'json':
        common.print_json({'rollout': rollout.uuid, 'name': rollout.name,
                           'stages': [dict(s, plan=s['plan'].to_dict())
                                      if 'plan' in s else s
                                      for s in stages]})
        return
    print('Release train %s (%s): %s -> %s, %d stage(s)' % (
        rollout.name, rollout.uuid, rollout.from_release.name,
        rollout.to_release.name, len(stages)))
    common.print_table(
        ['Stage', 'What', 'Rollout', 'Waves', 'Hosts', 'Predicted'],
        [[i, train.describe(s), s.get('rollout', '')] + (
            [len(s['plan'].waves), len(s['plan'].hosts),
             progress.duration(s['plan'].predicted_seconds)]
            if 'plan' in s else ['', '', ''])
         for i, s in enumerate(stages, 1)])


def _print_plan(rollout, plan, output_format, show_moves=False):
    if output_format == 'json':
        common.print_json({'rollout': rollout.uuid, 'name': rollout.name,
                           'policy': rollout.policy, 'plan': plan.to_dict()})
        return
    print('Rollout %s (%s): template %s, %d wave(s), %d host(s), '
          '%d migration(s) planned (lower bound %d), predicted %s'
          % (rollout.name, rollout.uuid, rollout.template_name,
             len(plan.waves), len(plan.hosts), plan.migrations,
             plan.lower_bound_migrations, progress.duration(plan.predicted_seconds)))
    common.print_table(
        ['Wave', 'Hosts', 'Migrations', 'Moving twice', 'Predicted'],
        [[w.index, ' '.join(w.hosts), len(w.moves),
          sum(1 for m in w.moves if m.moves_again),
          progress.duration(w.predicted_seconds)] for w in plan.waves])
    if show_moves:
        common.print_table(
            ['Wave', 'Instance', 'Name', 'From', 'To', 'Moves again'],
            [[w.index, m.instance, m.name, m.source, m.destination,
              m.reason if m.moves_again else '']
             for w in plan.waves for m in w.moves])
    if rollout.policy.get('learned_from'):
        print('Durations learned from rollouts %s'
              % ', '.join(rollout.policy['learned_from']))
    for w in plan.waves:
        # What is not a plain live migration, where an operator sees it.
        for m in w.moves:
            if m.action != 'live-migrate':
                print('Instance %s (%s) on %s: %s to %s'
                      % (m.name, m.instance, m.source, m.action,
                         m.destination))
        for stay in w.stays:
            print('Instance %s (%s) on %s: %s (%s)'
                  % (stay.name, stay.instance, stay.host, stay.action,
                     stay.reason))
    for host, reason in sorted(plan.skipped_hosts.items()):
        print('Skipped %s: %s' % (host, reason))
    for warning in plan.warnings:
        print('Warning: %s' % warning)


def _outcome(rollout_ref, state):
    summary = api.status(common.CONF, rollout_ref)['summary']
    print('Rollout %s %s: hosts %s, migrations %s' % (
        rollout_ref, state, _pairs(summary['hosts']),
        _pairs(summary['migrations'])))
    if state == 'succeeded':
        # Within the failure budget, failed hosts do not stop the rollout,
        # but the operator has work left: they are reverted, not upgraded.
        return common.EXIT_WARNING if summary['hosts'].get(
            'error') else common.EXIT_OK
    return (common.EXIT_WARNING if state in ('aborted', 'paused')
            else common.EXIT_FAILED)


def _shown(rollout_ref, call):
    """Run ``call()`` (it drives the rollout to its end) with the live
    progress display; the outcome's exit code."""
    state = progress.while_running(common.CONF, rollout_ref,
                                   progress.make_display(), call)
    return _outcome(rollout_ref, state)


def _pairs(counts):
    return ', '.join('%s %d' % kv for kv in sorted(counts.items())) or 'none'


def _parse_time(text):
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        raise exception.InvalidInput(
            reason='time %r: ISO 8601 expected, e.g. 2026-12-05T02:00+01:00'
                   % text) from None


# Longest sleep before a schedule is looked at again (it may be cancelled,
# or a new one due sooner).
SCHEDULE_LOOK_SECONDS = 10.0


def _sleep_until(when):
    """Sleep until ``when`` (naive UTC), SCHEDULE_LOOK_SECONDS at most."""
    left = SCHEDULE_LOOK_SECONDS
    if when is not None:
        left = min((when - timeutils.utcnow()).total_seconds(), left)
    time.sleep(max(left, 0.05))


def _start_when_due(rollout_ref, schedule_name):
    """Wait for the schedule, then run its rollout here, or follow it if
    another process started it first."""
    while True:
        schedule = api.get_schedule(common.CONF, schedule_name)
        if schedule['state'] == 'cancelled':
            print('Schedule %s cancelled' % schedule_name)
            return common.EXIT_WARNING
        if schedule['state'] != 'scheduled':
            break                   # another process took it
        due = datetime.datetime.fromisoformat(schedule['next_run_at'])
        if due <= timeutils.utcnow():
            for rollout in api.start_due(common.CONF, only=schedule_name):
                return _shown(rollout_ref, lambda: api.start(
                    common.CONF, rollout_ref))
        _sleep_until(due)
    status = progress.watch(
        common.CONF, rollout_ref, progress.make_display(),
        until=lambda s: (s['state'] != 'planned'
                         and progress.waits_for_operator(s)))
    return _outcome(rollout_ref, status['state'])


def _confirm_restores(rollout_ref, restores, yes):
    """Say what the restores lose; True if the operator accepts."""
    for r in restores:
        print('Rollout %s was committed: database %s will be restored from '
              'backup %s taken at %s. Data written since then will be lost: '
              '%d write(s) so far.' % (rollout_ref, r['database'],
                                       r['backup'], r['taken_at'],
                                       r['writes_lost']), file=sys.stderr)
        print('  %s' % (
            'The backup (taken after expand) serves the old and the new '
            'code: the API stays up during the restore and the rollback.'
            if r['api_stays_up'] else
            'The restored schema cannot serve the code running now: the '
            'API is DOWN until each controller runs the old code again.'),
            file=sys.stderr)
    if yes:
        return True
    if not sys.stdin.isatty():
        raise exception.ConfirmationRequired(
            what='rollback of %s restores %s from backup' % (
                rollout_ref, ', '.join(r['database'] for r in restores)))
    answer = input('Restore and roll back? [y/N] ')
    return answer.strip().lower() in ('y', 'yes')


def _host_list(value):
    return [h for h in value.split(',') if h]


def _count_or_percent(value):
    """'3' -> 3; '25%' stays a string (the planner checks both)."""
    return int(value) if value.isdigit() else value


def _plan_options(func):
    """The options of a plan (rollout plan, rollout schedule)."""
    for decorate in reversed([
        args('--template', required=True,
             help='Workflow template name (see flows/) or path.'),
        args('--to', dest='to_release',
             help='Release to upgrade to (name or uuid); required by '
                  'templates that upgrade packages.'),
        args('--hosts', type=_host_list,
             help='Comma-separated compute hosts (default: all).'),
        args('--az', dest='azs', action='append',
             help='Only hosts of this availability zone (repeatable).'),
        args('--max-parallel', type=int,
             help='Hosts drained at once (default: the template\'s).'),
        args('--max-failed-hosts', type=_count_or_percent,
             help='Failed hosts tolerated before the rollout stops: a count '
                  'or a percentage of its hosts such as 10%% (default: the '
                  'template\'s, usually 0).'),
        args('--on-failure', choices=('fail', 'pause'),
             help='When more hosts fail than allowed: fail the rollout (the '
                  'default), or pause it inside the wave until retry-host or '
                  'skip-host and rollout resume.'),
        args('--max-unavailable-per-az', type=_count_or_percent,
             help='Hosts out of service at once per availability zone: a '
                  'count or a percentage of the zone\'s hosts.'),
        args('--max-unavailable-per-aggregate', type=_count_or_percent,
             help='Hosts out of service at once per host aggregate: a count '
                  'or a percentage of the aggregate\'s hosts.'),
        args('--max-group-disruption', type=_count_or_percent,
             help='Members of one server group disrupted at once (default: 1 '
                  'for anti-affinity groups, no limit for others).'),
        args('--canary', action='store_const', const=True,
             help='A first wave of one host, then a pause until rollout '
                  'resume (or --canary-soak).'),
        args('--canary-soak', dest='canary_soak_seconds', type=float,
             metavar='SECONDS',
             help='With --canary: go on by itself after this many seconds '
                  'instead of waiting for rollout resume.'),
        args('--pause-between-waves', type=float, metavar='SECONDS',
             help='Soak time before each wave after the first.'),
        args('--commit-after', dest='commit_after_seconds', type=float,
             metavar='SECONDS',
             help='service-rolling-upgrade: run the contract migrations '
                  'this long after the rollout succeeded (by the '
                  'conductors, or rollout run-scheduled), as rollout commit '
                  'does (default: only on rollout commit).'),
        args('--window', dest='maintenance_window', metavar='WINDOW',
             help='Maintenance window, e.g. "sat,sun 01:00-05:00 '
                  'Europe/Berlin": a wave predicted not to end inside it '
                  'waits for the next one (the rollout shows paused).'),
        args('--unmovable', choices=('skip-host', 'fail', 'cold-migrate',
                                     'stop-start', 'notify-and-wait'),
             help='What happens to an instance that cannot be live-migrated, '
                  'unless it asks itself (server metadata or tag '
                  'upgrader:action): skip its host (the default), refuse the '
                  'plan, cold-migrate it, stop it while its host reboots, or '
                  'ask its owner and wait.'),
        args('--first-hosts', type=_host_list,
             help='Comma-separated hosts to upgrade first, in this order.'),
        args('--last-hosts', type=_host_list,
             help='Comma-separated hosts to upgrade last.'),
    ]):
        func = decorate(func)
    return func


class RolloutCommands:
    """Plan, run and follow rolling upgrades."""

    @_plan_options
    @args('--service', metavar='SERVICE',
          help='A control-plane service (keystone, nova-api...) to roll out '
               'across its controllers, with a template such as '
               'service-update; --hosts, --az and compute policy do not '
               'apply.')
    @args('--name', dest='rollout_name', help='A name for the rollout.')
    @args('--moves', dest='show_moves', action='store_true',
          help='Also list every planned instance move.')
    @common.format_arg()
    def plan(self, template, to_release=None, hosts=None, azs=None,
             rollout_name=None, show_moves=False, output_format='table',
             service=None, **policy):
        """Plan a rollout and store it; the cloud is not touched.

        Reads the inventory, orders the hosts in waves, gives every instance
        a destination (an already upgraded host whenever capacity allows, so
        each instance moves once) and proves each wave fits. Policy options
        override the template's.
        """
        if service is not None:
            if hosts or azs or to_release is None:
                raise exception.InvalidInput(
                    reason='--service needs --to and takes no --hosts or '
                           '--az')
            rollout, plan = api.plan_service_rollout(
                common.CONF, template, service, to_release,
                name=rollout_name, max_parallel=policy.get('max_parallel'),
                max_failed_hosts=policy.get('max_failed_hosts'),
                commit_after_seconds=policy.get('commit_after_seconds'))
        else:
            rollout, plan = api.plan_rollout(
                common.CONF, template, to_release=to_release, hosts=hosts,
                availability_zones=azs, name=rollout_name, **policy)
        _print_plan(rollout, plan, output_format, show_moves)
        return common.EXIT_WARNING if plan.warnings else common.EXIT_OK

    @args('--to', dest='to_release', required=True,
          help='Release to roll out (name or uuid): every component that '
               'differs from the cloud\'s current release.')
    @args('--name', dest='rollout_name',
          help='A name for the train (default: train-<release>); its '
               'stages are <name>.<n>-<service>.')
    @args('--max-parallel', type=int,
          help='Compute hosts drained at once (default: the template\'s).')
    @args('--max-failed-hosts', type=_count_or_percent,
          help='Compute hosts that may fail before the compute stage stops '
               '(default: the template\'s, usually 0).')
    @common.format_arg()
    def plan_release(self, to_release, rollout_name=None, max_parallel=None,
                     max_failed_hosts=None, output_format='table'):
        """Plan a full release as a train of stages, in the upstream
        upgrade order, and store it; the cloud is not touched.

        Database expands first, then each control-plane service across its
        controllers (keystone, glance, then Nova's conductors, schedulers
        and APIs, with the compute RPC version pinned while the computes
        are older), the compute hosts last, then the pin lifted. Each
        rolling stage is a rollout of its own; rollout start runs the
        train, one stage after the other.
        """
        rollout, stages = api.plan_release(
            common.CONF, to_release, name=rollout_name,
            max_parallel=max_parallel, max_failed_hosts=max_failed_hosts)
        _print_train(rollout, stages, output_format)
        return common.EXIT_OK

    @args('rollout_ref', metavar='ROLLOUT', help='Rollout name or uuid.')
    @args('--max-failed-hosts', type=_count_or_percent,
          help='Failed hosts tolerated before the rollout stops (default: '
               'as planned). A failed host always reverts itself.')
    @args('--at', metavar='TIME',
          help='Start it at this time instead (ISO 8601, e.g. '
               '2026-12-05T02:00+01:00; without an offset, UTC), kept in '
               'the database: rollout run-scheduled --wait or (with '
               '[jobboard] enabled) a conductor starts it then.')
    @args('--wait', action='store_true',
          help='With --at: wait here, then start it (or follow it if '
               'another process started it first).')
    def start(self, rollout_ref, max_failed_hosts=None, at=None,
              wait=False):
        """Run a planned rollout in this process, showing progress (or
        schedule it, with --at).

        With [jobboard] enabled, the conductors run it and this command
        follows it. Exit code: 0 succeeded, 1 aborted (resumable) or
        finished with reverted hosts, 2 failed.
        """
        if wait and at is None:
            raise exception.InvalidInput(reason='--wait goes with --at')
        if at is not None:
            if max_failed_hosts is not None:
                raise exception.InvalidInput(
                    reason='--max-failed-hosts cannot go with --at: give '
                           'it to rollout plan')
            schedule = api.schedule_start(common.CONF, rollout_ref,
                                          _parse_time(at))
            print('Rollout %s starts at %s UTC (schedule %s)' % (
                rollout_ref, schedule['next_run_at'], schedule['name']),
                flush=True)
            if not wait:
                return None
            return _start_when_due(rollout_ref, schedule['name'])
        return _shown(rollout_ref, lambda: api.start(
            common.CONF, rollout_ref, max_failed_hosts=max_failed_hosts))

    @_plan_options
    @args('--every', required=True, metavar='PERIOD',
          help='How often: [N] hour(s), day(s), week(s) or month(s), e.g. '
               '"month" or "2 weeks".')
    @args('--at', required=True, metavar='TIME',
          help='The first time (ISO 8601; without an offset, UTC); the '
               'next ones are whole periods later.')
    @args('--name', dest='schedule_name', help='A name for the schedule.')
    @common.format_arg()
    def schedule(self, template, every, at, to_release=None, hosts=None,
                 azs=None, schedule_name=None, output_format='table',
                 **policy):
        """Plan and start a rollout again and again (e.g. monthly).

        Each time, a rollout is planned afresh from these options (named
        after the schedule and the time) and started by whichever process
        runs rollouts: rollout run-scheduled --wait, or the conductors.
        With --window, each one waits for the maintenance window to open.
        """
        schedule = api.schedule_recurring(
            common.CONF, every, _parse_time(at), template,
            name=schedule_name, to_release=to_release, hosts=hosts,
            availability_zones=azs, **policy)
        if output_format == 'json':
            common.print_json(schedule)
            return
        print('Schedule %s: every %s, next at %s UTC' % (
            schedule['name'], schedule['every'], schedule['next_run_at']))

    @common.format_arg()
    def schedule_list(self, output_format='table'):
        """List the schedules, the next due first."""
        schedules = api.list_schedules(common.CONF)
        if output_format == 'json':
            common.print_json(schedules)
            return
        common.print_table(
            ['Name', 'State', 'Starts', 'Every', 'Next (UTC)',
             'Last rollout', 'Error'],
            [[s['name'], s['state'],
              s['rollout'] or (s['spec'] or {}).get('template'), s['every'],
              s['next_run_at'], s['last_rollout'], s['error']]
             for s in schedules])

    @args('schedule_ref', metavar='SCHEDULE', help='Schedule name or uuid.')
    def unschedule(self, schedule_ref):
        """Cancel a schedule: nothing more starts from it."""
        schedule = api.cancel_schedule(common.CONF, schedule_ref)
        print('Schedule %s: %s' % (schedule['name'], schedule['state']))

    @args('--wait', action='store_true',
          help='Keep running, starting each schedule when it is due (the '
               'embedded runner\'s scheduler; stop it with Ctrl-C).')
    def run_scheduled(self, wait=False):
        """Start here the rollouts whose schedule is due, one after the
        other, showing progress.

        Exit code: the worst of their outcomes (0 when nothing was due).
        """
        worst = common.EXIT_OK
        while True:
            for name in api.commit_due(common.CONF):
                print('Rollout %s: committed (its soak time is over)' % name)
            for rollout in api.start_due(common.CONF):
                uuid = rollout['uuid']
                worst = max(worst, _shown(uuid, lambda: api.start(
                    common.CONF, uuid)))
            if not wait:
                break
            _sleep_until(api.next_due(common.CONF))
        if worst == common.EXIT_OK and not wait:
            print('Nothing more is due.')
        return worst

    @args('rollout_ref', metavar='ROLLOUT',
          help='The rollout to take back (name or uuid).')
    @args('--name', dest='rollout_name',
          help='A name for the rollback (default: ROLLOUT-rollback).')
    @args('--plan-only', action='store_true',
          help='Store the rollback\'s plan without running it (then '
               'rollout start).')
    @args('--service', metavar='COMPONENT',
          help='Take back only this service (or package); the others keep '
               'their versions.')
    @args('--yes', action='store_true',
          help='Do not ask before restoring a database from backup (a '
               'rollback after rollout commit loses what was written '
               'since).')
    @common.format_arg()
    def rollback(self, rollout_ref, rollout_name=None, plan_only=False,
                 service=None, yes=False, output_format='table'):
        """Take a rollout back: a new rollout to the release before it.

        Same template and policy, same guarantees: the hosts the rollout
        changed are drained again (each instance moves at most once), their
        packages go back to the versions each had before, they reboot into
        them and are re-enabled one wave at a time. Hosts already on their
        old versions are left alone. Runs here unless --plan-only; exit
        codes as rollout start.

        After rollout commit (the contract migrations ran) the old code
        cannot use the schema: the service's database is first restored
        from the backup the rollout took. The command says what will be
        lost and asks (--yes does not; without a terminal it refuses).
        Such a rollback cannot be --plan-only.
        """
        restores = api.rollback_restores(common.CONF, rollout_ref,
                                         service=service)
        if restores and plan_only:
            # The restore happens before the rollback's plan is stored; a
            # plan-only run must change nothing.
            raise exception.InvalidInput(
                reason='rollout %s was committed: its rollback restores a '
                       'database from backup first, so it cannot be only '
                       'planned; run it without --plan-only' % rollout_ref)
        if restores and not _confirm_restores(rollout_ref, restores, yes):
            print('Nothing changed.', file=sys.stderr)
            return common.EXIT_FAILED
        rollout, plan = api.plan_rollback(common.CONF, rollout_ref,
                                          name=rollout_name, service=service,
                                          restore=bool(restores))
        if 'stages' in rollout.plan:            # a release train's
            _print_train(rollout, plan, output_format)
            warnings = False
        else:
            _print_plan(rollout, plan, output_format)
            warnings = bool(plan.warnings)
        if plan_only:
            return common.EXIT_WARNING if warnings else common.EXIT_OK
        return _shown(rollout.uuid, lambda: api.start(common.CONF,
                                                      rollout.uuid))

    @args('rollout_ref', metavar='ROLLOUT', help='Rollout name or uuid.')
    def pause(self, rollout_ref):
        """Pause a running rollout: the wave in flight finishes, the next
        one waits for rollout resume. Nothing is left drained."""
        state = api.pause(common.CONF, rollout_ref)
        print('Rollout %s: %s' % (rollout_ref, state))

    @args('rollout_ref', metavar='ROLLOUT', help='Rollout name or uuid.')
    def resume(self, rollout_ref):
        """Resume a paused or aborted rollout, or one whose process died,
        and follow it to its end.

        A paused rollout (by rollout pause, or a canary waiting for
        approval) goes on from its next wave. Otherwise finished steps are
        not run again; the step that was running when the process died is
        run again from its start.
        """
        return _shown(rollout_ref, lambda: api.resume(common.CONF,
                                                      rollout_ref))

    @args('rollout_ref', metavar='ROLLOUT', help='Rollout name or uuid.')
    @args('--interval', type=float, default=1.0, metavar='SECONDS',
          help='Seconds between two looks (default: %(default)s).')
    def watch(self, rollout_ref, interval=1.0):
        """Follow a rollout live, wherever it runs, until it ends or waits
        for the operator.

        Per wave: hosts done, failed and in progress, the step each host is
        on; migrations done of those planned; elapsed and predicted
        remaining time. A terminal is redrawn in place; otherwise a line is
        printed for each change. A rollout waiting for its maintenance
        window is followed on; a scheduled one is waited for.

        Exit code: 0 succeeded, 1 finished with failed hosts within the
        budget, aborted, or paused until rollout resume, 2 failed.
        """
        if interval <= 0:
            raise exception.InvalidInput(reason='--interval must be '
                                                'positive')
        until = progress.waits_for_operator
        status = api.status(common.CONF, rollout_ref)
        if status['state'] == 'planned':
            if not [s for s in api.list_schedules(common.CONF)
                    if s['state'] == 'scheduled'
                    and s['rollout'] == status['name']]:
                raise exception.Conflict(
                    reason='rollout %s is planned: nothing runs yet '
                           '(rollout start)' % rollout_ref)

            def until(status):      # it starts at its scheduled time
                return (status['state'] != 'planned'
                        and progress.waits_for_operator(status))
        status = progress.watch(common.CONF, rollout_ref,
                                progress.make_display(), interval, until)
        return _outcome(rollout_ref, status['state'])

    @args('rollout_ref', metavar='ROLLOUT', help='Rollout name or uuid.')
    @args('host', metavar='HOST', help='The compute host.')
    def retry_host(self, rollout_ref, host):
        """Run a failed host again, from its first step, when its paused or
        stopped rollout is resumed (rollout resume)."""
        state = api.retry_host(common.CONF, rollout_ref, host)
        print('Host %s of rollout %s: %s; rollout resume runs it again'
              % (host, rollout_ref, state))

    @args('rollout_ref', metavar='ROLLOUT', help='Rollout name or uuid.')
    @args('host', metavar='HOST', help='The compute host.')
    def skip_host(self, rollout_ref, host):
        """Leave a pending or failed host of a paused or stopped rollout
        alone: it is not upgraded and no longer counts against the failure
        budget."""
        state = api.skip_host(common.CONF, rollout_ref, host)
        print('Host %s of rollout %s: %s' % (host, rollout_ref, state))

    @args('rollout_ref', metavar='ROLLOUT', help='Rollout name or uuid.')
    def commit(self, rollout_ref):
        """Run the contract migrations of a finished service-rolling-upgrade
        rollout whose data migrations ran (idempotent).

        After it the old code cannot run on the schema: a rollback then
        restores the database from the backup the rollout took, losing what
        was written since.
        """
        found = api.commit(common.CONF, rollout_ref)
        print('Rollout %s: committed at %s' % (found['name'],
                                               found['committed_at']))

    @args('rollout_ref', metavar='ROLLOUT', help='Rollout name or uuid.')
    def abort(self, rollout_ref):
        """Stop a rollout: in-flight steps finish, no new step starts.

        Hosts caught in the middle stay disabled and drained until the
        rollout is resumed.
        """
        state = api.abort(common.CONF, rollout_ref)
        print('Rollout %s: %s' % (rollout_ref, state))

    @args('rollout_ref', metavar='ROLLOUT', help='Rollout name or uuid.')
    @args('--events', dest='show_events', action='store_true',
          help='Also show the rollout\'s events, oldest first.')
    @common.format_arg()
    def status(self, rollout_ref, show_events=False, output_format='table'):
        """Show a rollout: its state, each host's state and step, moves."""
        data = api.status(common.CONF, rollout_ref, events=show_events)
        if output_format == 'json':
            common.print_json(data)
            return
        summary = data['summary']
        print('Rollout %s (%s): %s, template %s, release %s' % (
            data['name'], data['uuid'], data['state'], data['template_name'],
            data['to_release']))
        if data['error']:
            print('Error: %s' % data['error'])
        if data['paused_reason']:
            print('Paused: %s' % data['paused_reason'])
        if data.get('committed_at'):
            print('Committed: %s (contract migrations ran)'
                  % data['committed_at'])
        if 'stages' in data:
            common.print_table(
                ['Stage', 'What', 'Rollout', 'State'],
                [[s['index'], s['what'], s['rollout'] or '', s['state'] or '']
                 for s in data['stages']])
            if 'stage' in data:
                print('Stage %s:' % data['stage'])
        print('Hosts: %s; migrations: %d planned, %s' % (
            _pairs(summary['hosts']), summary['migrations_planned'],
            _pairs(summary['migrations'])))
        common.print_table(
            ['Wave', 'Host', 'State', 'Step', 'Error'],
            [[h['wave'], h['host'], h['state'], h['step'], h['error']]
             for h in data['hosts']])
        if show_events:
            common.print_table(
                ['Time', 'Level', 'Host', 'Step', 'Message'],
                [[e['created_at'], e['level'], e['host'], e['step'],
                  e['message']] for e in data['events']])

    @args('rollout_ref', metavar='ROLLOUT', help='Rollout name or uuid.')
    @args('--html', dest='html_file', metavar='FILE', required=True,
          help='Write the report to FILE: one self-contained HTML page, '
               'no network needed to open it.')
    def report(self, rollout_ref, html_file):
        """Write a rollout's report: a timeline of every host's steps, the
        migrations, failures, the referee's counts, the plan's prediction
        beside what happened."""
        page = report_html.render(api.report(common.CONF, rollout_ref))
        common.write_file(html_file, page)
        print('Report of rollout %s written to %s' % (rollout_ref,
                                                       html_file))

    @common.format_arg()
    def list(self, output_format='table'):
        """List rollouts, oldest first."""
        rollouts = api.list_rollouts(common.CONF)
        if output_format == 'json':
            common.print_json(rollouts)
            return
        common.print_table(
            ['Name', 'UUID', 'State', 'Template', 'Release', 'Created'],
            [[r['name'], r['uuid'], r['state'], r['template_name'],
              r['to_release'], r['created_at']] for r in rollouts])


CATEGORIES = {
    'cloud': CloudCommands,
    'db': DbCommands,
    'persistence': PersistenceCommands,
    'release': ReleaseCommands,
    'rollout': RolloutCommands,
}


def main():
    sys.exit(common.run(CATEGORIES, description=__doc__))
