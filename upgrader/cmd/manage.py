"""upgrader-manage: the operator's command line, in the style of nova-manage.

    upgrader-manage [--config-file FILE] <category> <action> [options]

Exit codes: 0 ok, 1 finished with warnings or work remaining, 2 failed,
255 unexpected error.
"""

import sys

from upgrader.cmd import common
from upgrader.cmd.common import args


class CloudCommands:
    """Read the cloud through the compute driver."""

    @args('--instances', action='store_true',
          help='Also list every instance with its host.')
    @common.format_arg()
    def inventory(self, instances=False, output_format='table'):
        """Print the compute hosts (state, AZ, aggregates, capacity, instances).

        Reads the cloud through the configured compute driver; changes nothing.
        """
        raise NotImplementedError


CATEGORIES = {
    'cloud': CloudCommands,
}


def main():
    sys.exit(common.run(CATEGORIES, description=__doc__))
