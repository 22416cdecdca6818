"""upgrader: rolling upgrades for OpenStack clouds."""

import os

# upgrader never runs on eventlet (oslo.service imports it, through
# oslo.messaging and taskflow's engines): its green DNS resolver would only
# add dnspython's import, about a fifth of every command's start-up.
os.environ.setdefault('EVENTLET_NO_GREENDNS', 'yes')
