"""A rollout report as one self-contained HTML page: inline CSS, no script,
nothing fetched. Every text taken from the record is escaped.

``render(upgrader.api.report(conf, ref))``; render itself is pure.
"""

import html

from upgrader.common import states
from upgrader.report import analysis

# The colour of a bar, by its outcome (also the legend's).
COLOURS = {
    analysis.DONE: '#2e7d32',
    analysis.FAILED: '#c62828',
    analysis.REVERTED: '#ef6c00',
    analysis.RUNNING: '#1565c0',
    analysis.INTERRUPTED: '#9e9e9e',
}
LEGEND = {
    analysis.DONE: 'done',
    analysis.FAILED: 'failed',
    analysis.REVERTED: 'reverted (a step undone)',
    analysis.RUNNING: 'running',
    analysis.INTERRUPTED: 'interrupted (no outcome)',
}
# Waves alternate between these background shades on the timeline.
WAVE_SHADES = ('#e3f2fd', '#fff3e0')
TICKS = 5

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.5em; margin: 0 0 .2em; }
h2 { font-size: 1.15em; border-bottom: 1px solid #ccc; margin-top: 1.6em; }
table { border-collapse: collapse; }
th, td { padding: .2em .7em; border-bottom: 1px solid #eee;
         text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta { color: #555; }
.err { color: #b71c1c; white-space: pre-wrap; font-family: monospace; }
.state-succeeded, .state-done, .state-completed { color: #2e7d32; }
.state-failed, .state-error, .state-aborted { color: #c62828; }
.state-running, .state-aborting { color: #1565c0; }
.off-plan { background: #fff8e1; }
.legend span { margin-right: 1.2em; white-space: nowrap; }
.swatch { display: inline-block; width: 1.1em; height: .8em;
          vertical-align: middle; margin-right: .3em; }
.timeline { min-width: 40em; }
.row { display: flex; align-items: center; height: 22px; }
/* The label column's width is the notes' indent under the tracks. */
.label { width: 180px; box-sizing: border-box; flex: none; overflow: hidden;
         white-space: nowrap; text-overflow: ellipsis; padding-right: .5em; }
.label small { color: #777; }
.track { position: relative; flex: 1; height: 18px;
         border-left: 1px solid #999; background: #fafafa; }
.axis .track { background: none; height: 20px; }
.band { position: absolute; top: 0; bottom: 0; }
.axis .band { font-size: 11px; color: #555; overflow: hidden;
              white-space: nowrap; padding-left: 2px; box-sizing: border-box; }
.tick { position: absolute; bottom: -4px; height: 6px;
        border-left: 1px solid #999; }
.tick span { position: absolute; top: 6px; left: 2px; font-size: 11px;
             color: #777; white-space: nowrap; }
.bar { position: absolute; top: 3px; height: 12px; min-width: 2px;
       border-radius: 2px; overflow: hidden; white-space: nowrap;
       color: #fff; font-size: 10px; line-height: 12px; }
.wave-head { font-weight: 600; margin: .9em 0 .2em; }
.wave-head small { font-weight: normal; color: #555; }
.note { margin: 0 0 .3em 180px; font-size: 12px; }
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>%(title)s</title>
<style>%(css)s</style>
</head>
<body>
%(body)s
</body>
</html>
"""


def _e(value):
    """Escaped text; None is empty."""
    return '' if value is None else html.escape(str(value), quote=True)


def _duration(seconds):
    if seconds is None:
        return '\u2014'
    if seconds < 59.95:
        return '%.1f s' % seconds
    whole = round(seconds)
    if whole < 3600:
        return '%d min %02d s' % divmod(whole, 60)
    return '%d h %02d min' % divmod(whole // 60, 60)


def _time(at):
    return '\u2014' if at is None else at.strftime('%Y-%m-%d %H:%M:%S')


def _state(state):
    return '<span class="state-%s">%s</span>' % (_e(state), _e(state))


def _table(head, rows, foot=None, **attrs):
    """A table; head is a list of (title, css class), without a header
    row if no column has a title; rows and foot are (row attributes,
    [cell html]) with cells classed as their column."""
    def row(tag, attributes, cells):
        return '<tr%s>%s</tr>' % (attributes, ''.join(
            '<%s class="%s">%s</%s>' % (tag, cls, cell, tag)
            for (_, cls), cell in zip(head, cells)))
    titles = ''.join('<th class="%s">%s</th>' % (cls, _e(title))
                     for title, cls in head)
    return '<table%s>%s<tbody>%s</tbody>%s</table>' % (
        ''.join(' %s="%s"' % (k, _e(v)) for k, v in attrs.items()),
        '<thead><tr>%s</tr></thead>' % titles if any(
            title for title, _ in head) else '',
        ''.join(row('td', *r) for r in rows),
        '<tfoot>%s</tfoot>' % row('th', *foot) if foot else '')


def render(data):
    """The report of a collected rollout as one HTML page (a str)."""
    an = analysis.analyse(data)
    body = '\n'.join([_header(data, an), _summary(data, an),
                      _prediction(data, an), _timeline(data, an),
                      _failures(data), _migrations(data)])
    return PAGE % {'title': 'Rollout %s' % _e(data['name']), 'css': CSS,
                   'body': body}


def _header(data, an):
    releases = ' \u2192 '.join(_e(r) for r in (data['from_release'],
                                               data['to_release']) if r)
    return ('<header><h1>Rollout %s</h1><p class="meta">%s &middot; '
            'template %s%s &middot; uuid %s<br>started %s UTC &middot; '
            '%s %s UTC &middot; %s elapsed &middot; report of %s UTC</p>'
            '</header>' % (
                _e(data['name']), _state(data['state']),
                _e(data['template_name']),
                ' &middot; release %s' % releases if releases else '',
                _e(data['uuid']), _time(an.start),
                'still running at' if an.active else 'ended',
                _time(an.end),
                _duration(an.seconds),
                _time(analysis.parse_time(data['generated_at']))))


def _names(names):
    return ': ' + _e(', '.join(names)) if names else ''


def _summary(data, an):
    s = an.summary
    rows = [
        ('outcome', 'Outcome', _state(data['state'])),
        ('hosts', 'Hosts', '%d: %s' % (s['hosts'], ', '.join(
            '%s %s' % (n, _state(st)) for st, n in s['hosts_by_state'].items()
        ))),
        ('hosts_done', 'Hosts done', s['hosts_done']),
        ('hosts_failed', 'Hosts failed', s['hosts_failed']),
        ('hosts_reverted', 'Hosts reverted', '%d%s' % (
            len(s['hosts_reverted']), _names(s['hosts_reverted']))),
        ('instances_disrupted', 'Instances disrupted (a move failed or '
         'aborted)', '%d%s' % (len(s['instances_disrupted']),
                               _names(s['instances_disrupted']))),
        ('migrations', 'Migrations completed',
         '%d of %s planned (lower bound %s)' % (
             s['migrations'], _e(s['migrations_planned']),
             _e(s['migrations_lower_bound']))),
        ('migrations_per_instance', 'Migrations per instance',
         'max %d; %d instance(s) moved more than once' % (
             s['migrations_per_instance_max'],
             s['instances_moved_more_than_once'])),
    ]
    rows += [('skipped', 'Skipped by the plan', '%s: %s' % (_e(host),
                                                             _e(reason)))
             for host, reason in sorted(data['plan']['skipped_hosts'].items())]
    rows += [('warning', 'Plan warning', _e(w))
             for w in data['plan']['warnings']]
    return '<section id="summary"><h2>Summary</h2>%s</section>' % _table(
        [('', 'key'), ('', 'value')],
        [(' data-key="%s"' % key, [_e(title), value])
         for key, title, value in rows])


def _ratio(actual, predicted):
    if actual is None or not predicted:
        return '\u2014'
    percent = 100.0 * actual / predicted
    # A simulated cloud runs far faster than predicted: keep a digit.
    return ('%.1f%%' if percent < 10 else '%.0f%%') % percent


def _prediction(data, an):
    completed = {}
    for move in data['moves']:
        if move['state'] == analysis.MOVE_COMPLETED:
            completed[move['source_host']] = completed.get(
                move['source_host'], 0) + 1
    head = [('Wave', 'num'), ('Hosts', ''), ('Migrations planned', 'num'),
            ('Migrations completed', 'num'), ('Predicted', 'num'),
            ('Actual', 'num'), ('Actual / predicted', 'num'), ('Status', '')]
    rows = [(' data-wave="%d"' % w.index, [
        str(w.index), _e(', '.join(w.hosts)), _e(w.planned_migrations),
        str(sum(completed.get(h, 0) for h in w.hosts)),
        _duration(w.predicted_seconds), _duration(w.seconds),
        _ratio(w.seconds, w.predicted_seconds), _e(w.status)])
        for w in an.waves]
    predicted = data['plan']['predicted_seconds']
    foot = (' data-wave="total"', [
        'Total', str(an.summary['hosts']), _e(data['plan']['migrations']),
        str(an.summary['migrations']), _duration(predicted),
        _duration(an.seconds), _ratio(an.seconds, predicted),
        _e(data['state'])])
    return ('<section id="prediction"><h2>Predicted and actual</h2>%s'
            '</section>' % _table(head, rows, foot))


class _Scale:
    """Positions on the timeline, in percent of the rollout's span."""

    def __init__(self, start, seconds):
        self.start = start
        self.seconds = seconds or 1.0

    def at(self, when):
        offset = (when - self.start).total_seconds()
        return min(100.0, max(0.0, 100.0 * offset / self.seconds))

    def style(self, start, end):
        left = self.at(start)
        return 'left:%.3f%%;width:%.3f%%' % (left, self.at(end) - left)


def _timeline(data, an):
    scale = _Scale(an.start, an.seconds)
    runs = {r['host']: r for r in data['hosts']}
    legend = ''.join(
        '<span><i class="swatch" style="background:%s"></i>%s</span>'
        % (COLOURS[o], _e(LEGEND[o])) for o in analysis.OUTCOMES)
    axis = ''.join(
        '<div class="band" style="%s;background:%s">wave %d</div>'
        % (scale.style(w.start, w.end), _shade(w), w.index)
        for w in an.waves if w.start is not None)
    axis += ''.join(
        '<div class="tick" style="left:%.1f%%"><span>+%s</span></div>'
        % (100.0 * i / TICKS, _duration(an.seconds * i / TICKS))
        for i in range(TICKS))
    parts = ['<section id="timeline"><h2>Timeline</h2>',
             '<p class="legend">%s</p><div class="timeline">' % legend,
             '<div class="row axis"><div class="label">elapsed</div>'
             '<div class="track">%s</div></div>' % axis]
    for wave in an.waves:
        parts.append(
            '<div class="wave-head" data-wave="%d">Wave %d <small>%s%s'
            '</small></div>' % (
                wave.index, wave.index, _e(wave.status),
                '' if wave.start is None else
                ' &middot; started %s UTC &middot; %s' % (
                    _time(wave.start), _duration(wave.seconds))))
        parts.extend(_host_row(runs[host], wave, an.bars.get(host, []),
                               scale)
                     for host in wave.hosts if host in runs)
    parts.append('</div></section>')
    return '\n'.join(parts)


def _shade(wave):
    return WAVE_SHADES[wave.index % len(WAVE_SHADES)]


def _host_row(run, wave, bars, scale):
    band = ('<div class="band" style="%s;background:%s"></div>'
            % (scale.style(wave.start, wave.end), _shade(wave))
            if wave.start is not None else '')
    row = ('<div class="row" data-host="%s" data-wave="%d" data-state="%s">'
           '<div class="label" title="%s">%s <small>%s</small></div>'
           '<div class="track">%s%s</div></div>' % (
               _e(run['host']), wave.index, _e(run['state']),
               _e(run['host']), _e(run['host']), _e(run['state']), band,
               ''.join(_bar(b, scale) for b in bars)))
    if run['error']:
        row += ('<div class="note err" data-host="%s">%s: %s</div>'
                % (_e(run['host']), _e(run['step']), _e(run['error'])))
    return row


def _bar(bar, scale):
    title = '%s: %s (%s)' % (bar.step, bar.outcome, _duration(bar.seconds))
    if bar.message:
        title += '\n' + bar.message
    return ('<div class="bar" data-step="%s" data-outcome="%s" '
            'style="%s;background:%s" title="%s">%s</div>' % (
                _e(bar.step), _e(bar.outcome),
                scale.style(bar.start, bar.end), COLOURS[bar.outcome],
                _e(title), _e(bar.step)))


def _failures(data):
    parts = ['<section id="failures"><h2>Failures</h2>']
    if data['error']:
        parts.append('<p>The rollout stopped: <span class="err" '
                     'id="rollout-error">%s</span></p>' % _e(data['error']))
    hosts = [h for h in data['hosts'] if h['state'] == states.HOST_ERROR]
    if hosts:
        parts.append('<h3>Hosts in error</h3>' + _table(
            [('Host', ''), ('Wave', 'num'), ('Step', ''), ('Error', 'err')],
            [(' data-host="%s"' % _e(h['host']),
              [_e(h['host']), _e(h['wave']), _e(h['step']), _e(h['error'])])
             for h in hosts], id='failed-hosts'))
    moves = [m for m in data['moves']
             if m['state'] in analysis.MOVES_DISRUPTING]
    if moves:
        parts.append('<h3>Migrations that failed</h3>' + _table(
            [('Instance', ''), ('Source', ''), ('Planned destination', ''),
             ('State', ''), ('Error', 'err')],
            [('', [_e(m['instance_name'] or m['instance_uuid']),
                   _e(m['source_host']), _e(m['planned_host']),
                   _state(m['state']), _e(m['error'])]) for m in moves],
            id='failed-moves'))
    if len(parts) == 1:
        parts.append('<p>None.</p>')
    parts.append('</section>')
    return '\n'.join(parts)


def _migrations(data):
    rows = []
    for m in data['moves']:
        off_plan = (m['state'] == analysis.MOVE_COMPLETED
                    and m['dest_host'] != m['planned_host'])
        rows.append((' class="%s" data-state="%s"' % (
            'off-plan' if off_plan else '', _e(m['state'])), [
            '<span title="%s">%s</span>' % (
                _e(m['instance_uuid']),
                _e(m['instance_name'] or m['instance_uuid'])),
            _e(m['source_host']), _e(m['dest_host']), _e(m['planned_host']),
            _state(m['state']), _duration(analysis.seconds_between(
                analysis.parse_time(m['started_at']),
                analysis.parse_time(m['finished_at'])))]))
    return ('<section id="migrations"><h2>Migrations (%d)</h2>%s</section>'
            % (len(rows), _table(
                [('Instance', ''), ('Source', ''), ('Destination', ''),
                 ('Planned destination', ''), ('State', ''),
                 ('Duration', 'num')], rows, id='moves')))
