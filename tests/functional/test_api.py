"""upgrader.api as a deployment tool uses it: a Python process of its own
that plans, starts in a thread and follows the events of a rollout on the
simulator, without upgrader-manage."""

import json
import re
import subprocess
import sys

from upgrader import api

TOOL = '''
import json, sys, threading
from upgrader import api
from upgrader import conf
conf.CONF(['--config-file', sys.argv[1]], project='upgrader')
rollout, plan = api.plan_rollout(conf.CONF, 'compute-rolling-upgrade',
                                 to_release='new', max_parallel=2, name='r1')
runner = threading.Thread(target=api.start, args=(conf.CONF, 'r1'))
runner.start()
events = api.follow(conf.CONF, 'r1', interval=0.1)
seen = []
while True:
    try:
        seen.append(next(events)['message'])
    except StopIteration as end:
        final = end.value
        break
runner.join()
print(json.dumps({'final': final, 'seen': seen,
                  'summary': api.status(conf.CONF, 'r1')['summary'],
                  'events': len(api.events(conf.CONF, 'r1'))}))
'''


def test_a_tool_plans_starts_and_follows_through_the_api(operator):
    op = operator()
    result = subprocess.run([sys.executable, '-c', TOOL, op.config],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    assert out['final'] == 'succeeded'
    assert out['summary']['hosts'] == {'done': 6}
    # Every event, in order, none twice: followed from before the start.
    assert len(out['seen']) == out['events'] > 0
    assert out['seen'][0].startswith('wave 1 starts')
    started = out['seen'].count('step started')
    assert started == out['seen'].count('step done') and started % 6 == 0


def test_the_documented_functions_exist():
    named = set(re.findall(r':func:`(\w+)`', api.__doc__))
    assert len(named) > 15
    assert all(callable(getattr(api, name, None)) for name in named), \
        sorted(n for n in named if not hasattr(api, n))
