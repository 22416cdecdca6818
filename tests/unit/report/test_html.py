"""The HTML report drawn from a hand-built record: escaping, bars coloured by
outcome, wave marks, the plan's prediction beside what happened."""

import html.parser
import re

from tests.unit.report import records
from upgrader.report import analysis
from upgrader.report import html as report_html


class _Elements(html.parser.HTMLParser):
    """Every start tag of a page: its attributes, its direct text and its
    ancestors."""

    def __init__(self, page):
        super().__init__()
        self.found, self.open = [], []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        element = {'tag': tag, 'text': '', 'ancestors': list(self.open),
                   **dict(attrs)}
        self.found.append(element)
        if tag not in ('meta', 'br'):
            self.open.append(element)

    def handle_endtag(self, tag):
        assert self.open.pop()['tag'] == tag

    def handle_data(self, data):
        if self.open:
            self.open[-1]['text'] += data


def _elements(page, tag, **attrs):
    return [e for e in _Elements(page).found if e['tag'] == tag
            and all(e.get(k) == v for k, v in attrs.items())]


def _bars(page, host):
    """[(step, outcome, left %, width %, colour)] of a host's row."""
    bars = []
    for bar in _elements(page, 'div', **{'class': 'bar'}):
        if bar['ancestors'][-2].get('data-host') != host:
            continue
        style = dict(p.split(':') for p in bar['style'].split(';'))
        bars.append((bar['data-step'], bar['data-outcome'],
                     float(style['left'].rstrip('%')),
                     float(style['width'].rstrip('%')), style['background']))
    return bars


def _cells(page, section, **attrs):
    """The text of each cell of the rows matching attrs in a section."""
    part = page.split('<section id="%s">' % section)[1].split('</section>')[0]
    return [re.sub(r'<[^>]+>', '', cell) for row in re.findall(
        r'<tr%s>(.*?)</tr>' % ''.join(' %s="%s"' % a for a in attrs.items()),
        part) for cell in re.findall(r'<t[dh][^>]*>(.*?)</t[dh]>', row)]


def test_operator_text_is_escaped():
    page = report_html.render(records.record())
    tags = {e['tag'] for e in _Elements(page).found}
    assert 'script' not in tags and 'b' not in tags
    assert records.ERROR not in page and records.BAD not in page
    assert report_html._e(records.ERROR) in page
    assert 'cmp-&lt;b&gt;2&lt;/b&gt;' in page
    assert '<title>Rollout r&lt;1&gt;</title>' in page
    assert 'holds &lt;unmovable&gt; vm-z' in page


def test_page_is_self_contained():
    page = report_html.render(records.record())
    for external in ('http:', 'https:', '//', 'src=', '<link', '<script',
                     '@import', 'url('):
        assert external not in page, external


def test_bars_are_coloured_by_outcome():
    page = report_html.render(records.record())
    done, failed, reverted, running = (
        report_html.COLOURS[o] for o in (analysis.DONE, analysis.FAILED,
                                         analysis.REVERTED, analysis.RUNNING))
    # 60 s on the timeline: one second is 1.667 %.
    assert _bars(page, 'cmp-1') == [
        ('disable_service', 'done', 0.0, 1.667, done),
        ('evacuate', 'done', 1.667, 16.667, done),
        ('reboot', 'done', 18.333, 33.333, done)]
    # A revert runs from the host's previous step event to its own.
    assert _bars(page, records.BAD) == [
        ('disable_service', 'done', 66.667, 1.667, done),
        ('upgrade_packages', 'failed', 68.333, 15.0, failed),
        ('upgrade_packages', 'reverted', 83.333, 3.333, reverted),
        ('disable_service', 'reverted', 86.667, 5.0, reverted)]
    # No outcome yet: running until the report's time.
    assert _bars(page, 'cmp-3')[-1] == ('upgrade_packages', 'running',
                                        70.0, 30.0, running)
    for outcome, colour in report_html.COLOURS.items():
        assert colour in page.split('class="legend"')[1].split('</p>')[0]


def test_failed_host_shows_its_error_under_its_row_and_in_failures():
    page = report_html.render(records.record(
        state='failed', error='1 host(s) failed (<b>)'))
    escaped = report_html._e(records.ERROR)
    note = _elements(page, 'div', **{'class': 'note err',
                                     'data-host': records.BAD})
    assert note[0]['text'] == 'upgrade_packages: ' + records.ERROR
    assert _cells(page, 'failures', **{'data-host': report_html._e(
        records.BAD)}) == [report_html._e(records.BAD), '2',
                           'upgrade_packages', escaped]
    assert ('id="rollout-error">1 host(s) failed (&lt;b&gt;)</span>'
            in page)
    assert 'migration &lt;stuck&gt;' in page.split('id="failed-moves"')[1]


def test_waves_are_marked():
    page = report_html.render(records.record())
    heads = _elements(page, 'div', **{'class': 'wave-head'})
    assert [h['data-wave'] for h in heads] == ['1', '2']
    bands = [b for b in _elements(page, 'div', **{'class': 'band'})
             if b['ancestors'][-2]['class'] == 'row axis']
    assert [(b['text'], b['style'].split(';background')[0])
            for b in bands] == [('wave 1', 'left:0.000%;width:51.667%'),
                                ('wave 2', 'left:66.667%;width:33.333%')]
    rows = _elements(page, 'div', **{'class': 'row'})
    assert [(r['data-host'], r['data-wave']) for r in rows] == [
        ('cmp-1', '1'), ('cmp-3', '2'), (records.BAD, '2')]


def test_prediction_beside_actual_per_wave_and_in_total():
    page = report_html.render(records.record())
    assert _cells(page, 'prediction', **{'data-wave': '1'}) == [
        '1', 'cmp-1', '2', '2', '5 min 00 s', '31.0 s', '10%', 'done']
    assert _cells(page, 'prediction', **{'data-wave': '2'}) == [
        '2', 'cmp-3, ' + report_html._e(records.BAD), '2', '1',
        '6 min 40 s', '20.0 s', '5.0%', 'running']
    assert _cells(page, 'prediction', **{'data-wave': 'total'}) == [
        'Total', '3', '4', '3', '11 min 40 s', '1 min 00 s', '8.6%', 'running']


def test_referee_summary():
    page = report_html.render(records.record())

    def value(key):
        return _cells(page, 'summary', **{'data-key': key})[1]
    assert value('hosts_done') == '1'
    assert value('hosts_failed') == '1'
    assert value('hosts_reverted') == '1: ' + report_html._e(records.BAD)
    assert value('instances_disrupted') == '1: vm-&lt;c&gt;'
    assert value('migrations') == '3 of 4 planned (lower bound 3)'
    assert value('migrations_per_instance') == (
        'max 2; 1 instance(s) moved more than once')


def test_migrations_table():
    page = report_html.render(records.record())
    rows = _elements(page, 'tr', **{'data-state': 'completed'})
    assert len(rows) == 3
    assert [r['class'] for r in rows] == ['', 'off-plan', '']
    assert _cells(page, 'migrations', **{'class': 'off-plan',
                                         'data-state': 'completed'}) == [
        'vm-b', 'cmp-1', report_html._e(records.BAD), 'cmp-3', 'completed',
        '5.0 s']
    assert '<h2>Migrations (4)</h2>' in page


def test_stopped_rollout_ends_at_its_last_record():
    # Its process died while cmp-3 upgraded: the step never got an outcome.
    page = report_html.render(records.record(state='aborted'))
    assert _bars(page, 'cmp-3')[-1][:2] == ('upgrade_packages',
                                            'interrupted')
    # The last event (55 s) is later than the last update (45 s).
    assert _cells(page, 'prediction', **{'data-wave': '2'})[-3:] == [
        '15.0 s', '3.8%', 'stopped']
    assert 'ended 2026-01-01 10:00:55 UTC' in page


def test_planned_rollout_has_nothing_to_draw():
    data = records.record(state='planned', started_at=None, events=[],
                          moves=[], updated_at=None)
    for host in data['hosts']:
        host.update(state='pending', started_at=None, finished_at=None,
                    error=None)
    page = report_html.render(data)
    assert _elements(page, 'div', **{'class': 'bar'}) == []
    assert _cells(page, 'prediction', **{'data-wave': '1'})[-3:] == [
        '\u2014', '\u2014', 'not started']
    assert '<section id="failures"><h2>Failures</h2>\n<p>None.</p>' in page


def test_durations():
    assert [report_html._duration(s) for s in (
        None, 0.25, 59.94, 59.96, 61, 3599.4, 3599.6, 7322)] == [
        '\u2014', '0.2 s', '59.9 s', '1 min 00 s', '1 min 01 s',
        '59 min 59 s', '1 h 00 min', '2 h 02 min']
