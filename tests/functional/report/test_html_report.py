"""The HTML report of a real rollout on the simulator, opened in headless
Chromium (Debian's chromium and chromedriver, driven by selenium): what the
browser shows matches our database, and the page fetches nothing."""

import json
import shutil

import pytest

from tests.fixtures.databases import in_ci
from upgrader.report import analysis
from upgrader.report import html as report_html

try:
    from selenium.webdriver.chrome import service as chrome_service
    from selenium.webdriver.common.by import By
    from selenium import webdriver
except ImportError:     # the browser fixture says so
    webdriver = None


def _missing():
    missing = [b for b in ('chromium', 'chromedriver')
               if shutil.which(b) is None]
    if webdriver is None:
        missing.append('selenium')
    return missing


@pytest.fixture
def browser():
    """Headless Chromium that logs the page's network requests. Skipped
    when it is not installed, failed under CI=true."""
    missing = _missing()
    if missing:
        message = ('%s not installed (tools/install-test-deps.sh, '
                   'test-requirements.txt)' % ', '.join(missing))
        if in_ci():
            pytest.fail(message + ' (CI=true: Chromium is required)',
                        pytrace=False)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which('chromium')
    for argument in ('--headless=new', '--no-sandbox', '--disable-gpu',
                     '--disable-dev-shm-usage', '--window-size=1400,1000'):
        options.add_argument(argument)
    options.set_capability('goog:loggingPrefs', {'performance': 'ALL'})
    # The driver's path is given: selenium downloads nothing.
    driver = webdriver.Chrome(options=options, service=chrome_service.Service(
        shutil.which('chromedriver')))
    try:
        yield driver
    finally:
        driver.quit()


def _rgba(colour):
    """'#c62828' as the browser gives a computed colour."""
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 'rgba(%d, %d, %d, 1)' % (red, green, blue)


def _requested(driver):
    """The URLs the page asked for, from Chromium's DevTools log."""
    urls = []
    for entry in driver.get_log('performance'):
        message = json.loads(entry['message'])['message']
        if message['method'] == 'Network.requestWillBeSent':
            urls.append(message['params']['request']['url'])
    return urls


def _words(text):
    return ' '.join(text.split())


def test_report_of_a_failed_rollout(operator, browser, tmp_path):
    op = operator()
    plan = op.plan()
    bad = next(h for w in plan['waves'][1:] for h in w['hosts']
               if any(m['source'] == h for m in w['moves']))
    op.sim.api(op.sim.connect(), 'POST', 'simulator-admin', '/faults',
               json={'fault': {'kind': 'package_fail', 'host': bad,
                               'package': 'qemu'}})
    result = op.manage('rollout', 'start', 'r1')
    assert result.returncode == 2, result.stdout + result.stderr
    page = tmp_path / 'report.html'
    written = op.manage('rollout', 'report', 'r1', '--html', str(page))
    assert written.returncode == 0, written.stderr
    unwritable = op.manage('rollout', 'report', 'r1', '--html',
                           str(tmp_path / 'no' / 'such' / 'dir.html'))
    assert unwritable.returncode != 0
    assert 'cannot write' in unwritable.stderr

    browser.get(page.as_uri())
    runs = {r['host']: r for r in op.query(
        'SELECT host, state, error FROM host_runs')}
    rows = browser.find_elements(By.CSS_SELECTOR, '.row[data-host]')
    assert sorted(r.get_attribute('data-host') for r in rows) == sorted(runs)
    assert runs[bad]['state'] == 'error' and 'qemu' in runs[bad]['error']
    failed = browser.find_elements(
        By.CSS_SELECTOR, '.row[data-host="%s"] .bar[data-outcome="%s"]'
        % (bad, analysis.FAILED))
    assert [b.get_attribute('data-step') for b in failed] == [
        'upgrade_packages']
    assert failed[0].value_of_css_property('background-color') == _rgba(
        report_html.COLOURS[analysis.FAILED])
    assert failed[0].size['width'] > 0
    note = browser.find_element(By.CSS_SELECTOR,
                                '.note[data-host="%s"]' % bad)
    assert _words(runs[bad]['error']) in _words(note.text)
    body = _words(browser.find_element(By.TAG_NAME, 'body').text)
    assert _words(runs[bad]['error']) in body
    rollout_error = op.query('SELECT error FROM rollouts')[0]['error']
    assert _words(rollout_error) in body
    moves = op.query('SELECT state FROM instance_moves')
    assert moves and len(browser.find_elements(
        By.CSS_SELECTOR, '#moves tbody tr')) == len(moves)
    completed = sum(m['state'] == 'completed' for m in moves)
    assert browser.find_element(
        By.CSS_SELECTOR, '#summary tr[data-key="migrations"] td.value'
    ).text.startswith('%d of ' % completed)

    # Nothing but the page itself was requested: no CSS, font or script.
    assert _requested(browser) == [page.as_uri()]
    assert browser.execute_script(
        'return performance.getEntriesByType("resource").length') == 0
    height = browser.execute_script('return document.body.scrollHeight')
    browser.set_window_size(1400, height + 50)
    assert browser.save_screenshot(str(tmp_path / 'report.png'))
