"""Console scripts: one thin module per command."""

import warnings

# oslo.messaging depends on oslo.service, which brings eventlet: it warns on
# import (taskflow looks whether it is there) although nothing here uses it.
# A command's stderr carries only its own one-line errors.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
