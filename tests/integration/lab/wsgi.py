"""The WSGI application gunicorn serves: ``NOVA_LAB_WSGI_MODULE``'s.

Keystone and nova-api parse ``sys.argv`` as their own command line when
they load their configuration, and under gunicorn that is gunicorn's: it is
cleared first.
"""

import importlib
import os
import sys

sys.argv = sys.argv[:1]

application = importlib.import_module(
    os.environ['NOVA_LAB_WSGI_MODULE']).application
