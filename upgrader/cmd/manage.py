"""upgrader-manage: the operator's command line, in the style of nova-manage.

    upgrader-manage [--config-file FILE] <category> <action> [options]

Exit codes: 0 ok, 1 finished with warnings or work remaining, 2 failed,
255 unexpected error.
"""

import sys

from upgrader.cmd import common
from upgrader.cmd.common import args
from upgrader.drivers import compute


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


CATEGORIES = {
    'cloud': CloudCommands,
}


def main():
    sys.exit(common.run(CATEGORIES, description=__doc__))
