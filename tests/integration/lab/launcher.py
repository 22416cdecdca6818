"""Start one OpenStack service of the lab, in the lab's virtual environment.

``python launcher.py nova-compute --config-file ...`` runs that console
script's ``main()`` after adding tests/integration/lab/virt to
``nova.virt.__path__``: Nova loads compute drivers from its own package
only, and the slow-migration fake driver lives in the test tree, not in the
installed Nova. ``launcher.py wsgi`` is the WSGI module gunicorn serves for
keystone (see keystone_wsgi below).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MAINS = {
    'nova-compute': 'nova.cmd.compute',
    'nova-conductor': 'nova.cmd.conductor',
    'nova-scheduler': 'nova.cmd.scheduler',
}


def main():
    name = sys.argv[1]
    module = __import__(MAINS[name], fromlist=['main'])
    import nova.virt
    nova.virt.__path__.append(os.path.join(HERE, 'virt'))
    sys.argv = [name] + sys.argv[2:]
    module.main()


if __name__ == '__main__':
    main()
