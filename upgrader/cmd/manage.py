"""upgrader-manage: the operator's command line, in the style of nova-manage.

    upgrader-manage [--config-file FILE] <category> <action> [options]

Exit codes: 0 ok, 1 finished with warnings or work remaining, 2 failed,
255 unexpected error.
"""

import sys

from upgrader.cmd import common
from upgrader.cmd.common import args
from upgrader.common import exception
from upgrader.db import api as db_api
from upgrader.db import migration
from upgrader.drivers import compute
from upgrader.jobs import persistence


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
        common.print_json(release.to_dict())
        return
    common.print_table(['Field', 'Value'], [
        ['name', release.name], ['uuid', release.uuid],
        ['description', release.description],
        ['parent', release.parent_name],
        ['created_at', release.created_at.isoformat()]])
    common.print_table(['Component', 'Version'],
                       sorted(release.versions.items()))


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
        release = db_api.get_instance().release_create(
            release_name, versions, description=description, parent=parent)
        _print_release(release, output_format)

    @common.format_arg()
    def list(self, output_format='table'):
        """List the releases, oldest first."""
        releases = db_api.get_instance().release_list()
        if output_format == 'json':
            common.print_json([r.to_dict() for r in releases])
            return
        common.print_table(
            ['Name', 'UUID', 'Components', 'Created'],
            [[r.name, r.uuid,
              ', '.join('%s=%s' % cv for cv in sorted(r.versions.items())),
              r.created_at.isoformat(timespec='seconds')]
             for r in releases])

    @args('release_ref', metavar='NAME_OR_UUID', help='The release to show.')
    @common.format_arg()
    def show(self, release_ref, output_format='table'):
        """Show a release and its component versions."""
        _print_release(db_api.get_instance().release_get(release_ref),
                       output_format)


class PersistenceCommands:
    """TaskFlow's logbooks: the persisted state of running flows."""

    def sync(self):
        """Create or upgrade the TaskFlow logbook tables ([persistence])."""
        persistence.upgrade(common.CONF)
        print('TaskFlow persistence schema is current.')


CATEGORIES = {
    'cloud': CloudCommands,
    'db': DbCommands,
    'persistence': PersistenceCommands,
    'release': ReleaseCommands,
}


def main():
    sys.exit(common.run(CATEGORIES, description=__doc__))
