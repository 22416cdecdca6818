"""A hand-built rollout record, as upgrader.api.report returns it.

Two waves: cmp-1 done in wave 1; in wave 2 ``cmp-<b>2</b>`` (a name that
must be escaped) fails its package upgrade and reverts, while cmp-3 is
still upgrading its packages. The rollout started at T0 and the report is
60 s later.
"""

import datetime

T0 = datetime.datetime(2026, 1, 1, 10, 0, 0)
BAD = 'cmp-<b>2</b>'
ERROR = 'qemu <script>alert("x")</script> & broken'


def at(seconds):
    return (T0 + datetime.timedelta(seconds=seconds)).isoformat()


def _event(seconds, message, host=None, step=None, level='info'):
    return {'created_at': at(seconds), 'host': host, 'step': step,
            'message': message, 'level': level}


def _step(host, step, start, end, outcome='step done'):
    return [_event(start, 'step started', host, step),
            _event(end, outcome, host, step)]


def _host(host, wave, state, start=None, end=None, step=None, error=None):
    return {'host': host, 'wave': wave, 'state': state, 'step': step,
            'error': error, 'started_at': start and at(start),
            'finished_at': end and at(end)}


def _move(instance, source, planned, dest, state, start, end, error=None):
    return {'instance_uuid': 'uuid-' + instance, 'instance_name': instance,
            'source_host': source, 'planned_host': planned,
            'dest_host': dest, 'state': state, 'error': error,
            'started_at': at(start), 'finished_at': at(end)}


def record(**overrides):
    """The record of the rollout above; keyword arguments replace keys."""
    events = (
        [_event(0, 'wave 1 starts: cmp-1')]
        + _step('cmp-1', 'disable_service', 0, 1)
        + _step('cmp-1', 'evacuate', 1, 11)
        + _step('cmp-1', 'reboot', 11, 31)
        + [_event(40, 'wave 2 starts: %s, cmp-3' % BAD)]
        + _step(BAD, 'disable_service', 40, 41)
        + _step('cmp-3', 'disable_service', 40, 42)
        + [_event(42, 'step started', 'cmp-3', 'upgrade_packages')]
        + _step(BAD, 'upgrade_packages', 41, 50,
                'step failed: %s' % ERROR)
        + [_event(52, 'step reverted', BAD, 'upgrade_packages',
                  level='warning'),
           _event(55, 'step reverted', BAD, 'disable_service',
                  level='warning')])
    data = {
        'uuid': 'f00', 'name': 'r<1>', 'state': 'running',
        'template_name': 'compute-rolling-upgrade', 'from_release': None,
        'to_release': 'new', 'error': None, 'created_at': at(-10),
        'updated_at': at(45), 'started_at': at(0), 'finished_at': None,
        'generated_at': at(60),
        'hosts': [
            _host('cmp-1', 1, 'done', 0, 31, 'reboot'),
            _host(BAD, 2, 'error', 40, 55, 'upgrade_packages', ERROR),
            _host('cmp-3', 2, 'running', 40, None, 'upgrade_packages')],
        'moves': [
            _move('vm-a', 'cmp-1', 'cmp-3', 'cmp-3', 'completed', 1, 6),
            _move('vm-b', 'cmp-1', 'cmp-3', BAD, 'completed', 6, 11),
            _move('vm-a', 'cmp-3', 'cmp-1', 'cmp-1', 'completed', 43, 48),
            _move('vm-<c>', BAD, 'cmp-1', None, 'aborted', 44, 49,
                  error='migration <stuck>')],
        'events': events,
        'plan': {
            'predicted_seconds': 700.0, 'migrations': 4,
            'lower_bound_migrations': 3,
            'skipped_hosts': {'cmp-9': 'holds <unmovable> vm-z'},
            'warnings': [],
            'waves': [
                {'index': 1, 'hosts': ['cmp-1'], 'predicted_seconds': 300.0,
                 'migrations': 2},
                {'index': 2, 'hosts': [BAD, 'cmp-3'],
                 'predicted_seconds': 400.0, 'migrations': 2}]},
    }
    data.update(overrides)
    return data
