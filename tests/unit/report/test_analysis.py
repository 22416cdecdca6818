"""Step bars and wave windows derived from a rollout's events."""

from tests.unit.report import records
from upgrader.report import analysis


def _event(seconds, message, host='cmp-1', step='reboot'):
    return {'created_at': records.at(seconds), 'host': host, 'step': step,
            'message': message, 'level': 'info'}


def _spans(bars):
    return [(b.step, b.outcome, b.start.second, b.end.second, b.message)
            for b in bars]


def test_step_run_again_after_a_crash_is_interrupted_then_done():
    events = [_event(1, 'step started'), _event(9, 'step started'),
              _event(12, 'step done')]
    bars = analysis.step_bars(events, analysis.parse_time(records.at(20)),
                              active=True)
    assert _spans(bars['cmp-1']) == [
        ('reboot', 'interrupted', 1, 9, None),
        ('reboot', 'done', 9, 12, 'step done')]


def test_open_step_of_a_stopped_rollout_is_interrupted_at_its_end():
    events = [_event(1, 'step started')]
    end = analysis.parse_time(records.at(20))
    assert _spans(analysis.step_bars(events, end, active=True)['cmp-1']) == [
        ('reboot', 'running', 1, 20, None)]
    assert _spans(analysis.step_bars(events, end, active=False)['cmp-1']) == [
        ('reboot', 'interrupted', 1, 20, None)]


def test_other_events_neither_open_nor_close_bars():
    events = [_event(0, 'wave 1 starts: cmp-1', host=None, step=None),
              _event(1, 'step started', step='evacuate'),
              _event(2, 'migrating vm-a to cmp-2', step='evacuate'),
              _event(3, 'step failed: timed out', step='evacuate'),
              _event(4, 'packages back to 29.0.0', step='upgrade_packages'),
              _event(6, 'step reverted', step='evacuate')]
    bars = analysis.step_bars(events, analysis.parse_time(records.at(9)),
                              active=False)
    assert list(bars) == ['cmp-1']
    assert _spans(bars['cmp-1']) == [
        ('evacuate', 'failed', 1, 3, 'step failed: timed out'),
        ('evacuate', 'reverted', 3, 6, 'step reverted')]


def test_waves_of_a_failed_rollout():
    data = records.record(state='failed')
    for host in data['hosts']:
        if host['host'] == 'cmp-3':
            host.update(state='error', finished_at=records.at(58))
    data['plan']['waves'].append({'index': 3, 'hosts': ['cmp-4'],
                                  'predicted_seconds': 10.0,
                                  'migrations': 0})
    windows = analysis.wave_windows(data, None, active=False)
    assert [(w.index, w.status, w.seconds, w.hosts) for w in windows] == [
        (1, 'done', 31.0, ['cmp-1']),
        (2, 'done', 18.0, ['cmp-3', records.BAD]),
        (3, 'not started', None, ['cmp-4'])]
