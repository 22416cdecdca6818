"""Sphinx configuration of upgrader's documentation.

The references (command line, configuration, errors, Python API) are
generated from the code by the extensions in ``_ext/`` and by
``oslo_config.sphinxext``, so they follow every new command and option.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '_ext'))

project = 'upgrader'
copyright = 'upgrader developers'
author = 'upgrader developers'

extensions = [
    'sphinx.ext.autodoc',
    'oslo_config.sphinxext',
    'upgrader_cli',
    'upgrader_config',
    'upgrader_errors',
    'upgrader_tasks',
]

# The Python API is documented from upgrader.api as it is installed.
autodoc_default_options = {'members': True}
autodoc_member_order = 'bysource'

exclude_patterns = ['_build']
templates_path = []
html_static_path = []
html_theme = 'alabaster'
# Room for the usage lines of the command-line reference.
html_theme_options = {'page_width': '1140px', 'sidebar_width': '240px'}
# Quotes and ellipses only: "--option" must not become an en dash.
smartquotes_action = 'qe'
html_title = 'upgrader'
pygments_style = 'sphinx'
