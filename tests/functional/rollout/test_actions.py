"""Per-instance actions end to end: instances ask through their server
metadata or tags (``upgrader:action``), or the policy decides for those that
cannot live-migrate; upgrader-manage runs the rollout on the simulator over
real HTTP, and its referee judges (no instance killed, no violation)."""

import json
import pathlib

from tests.fixtures.simulator import wait_for

SHIPPED = pathlib.Path(__file__).parents[3] / 'flows'


def _servers(op):
    conn = op.sim.connect()
    return conn, sorted(conn.compute.servers(details=True, all_projects=True),
                        key=lambda s: s.name)


def _loaded_host_server(op, taken=()):
    """A server on a host holding another one (so the host is drained, not
    skipped as empty), not one of ``taken``."""
    conn, servers = _servers(op)
    counts = {}
    for s in servers:
        counts[s.compute_host] = counts.get(s.compute_host, 0) + 1
    return conn, next(s for s in servers if counts[s.compute_host] > 1
                      and s.compute_host not in {t.compute_host
                                                 for t in taken})


def _stays(plan):
    return {s['instance']: s for w in plan['waves'] for s in w['stays']}


def _moves(plan):
    return {m['instance']: m for w in plan['waves'] for m in w['moves']}


def _clean(report):
    assert report['violations']['total'] == 0, report['violations']
    assert report['instances_killed'] == 0


def test_cold_migrate_and_stop_start_asked_by_metadata_and_tag(operator):
    op = operator()
    conn, cold = _loaded_host_server(op)
    conn.compute.set_server_metadata(cold.id,
                                     **{'upgrader:action': 'cold-migrate'})
    _, stay = _loaded_host_server(op, taken=[cold])
    conn.compute.get_server(stay.id).add_tag(conn.compute,
                                             'upgrader:action=stop-start')
    shown = op.ok('rollout', 'plan', '--template', 'compute-rolling-upgrade',
                  '--to', 'new', '--name', 'shown').stdout
    assert 'Instance %s (%s) on %s: stop-start (asked for by its ' \
        'upgrader:action)' % (stay.name, stay.id, stay.compute_host) in shown
    assert '(%s) on %s: cold-migrate to ' % (cold.id, cold.compute_host) \
        in shown
    plan = op.plan()
    assert _moves(plan)[cold.id]['action'] == 'cold-migrate'
    assert _stays(plan)[stay.id]['action'] == 'stop-start'
    assert stay.id not in _moves(plan)
    result = op.manage('rollout', 'start', 'r1', timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    report = op.sim.report()
    _clean(report)
    # Stopped while its host rebooted, started again after: on the same
    # host, running, never migrated.
    assert report['instances_shutoff'] == []
    after = conn.compute.get_server(stay.id)
    assert (after.status, after.compute_host) == ('ACTIVE', stay.compute_host)
    assert stay.id not in report['migrations']['per_instance']
    assert report['hosts'][stay.compute_host]['reboots'] == 1
    # Cold-migrated once, to its planned destination, confirmed.
    migrations = [m for m in conn.compute.migrations(instance_uuid=cold.id)]
    assert [(m.migration_type, m.status, m.dest_compute)
            for m in migrations] == [
        ('migration', 'confirmed', _moves(plan)[cold.id]['destination'])]
    assert conn.compute.get_server(cold.id).status == 'ACTIVE'
    messages = [e['message'] for e in op.events()]
    assert any('stopped; it is started again' in m and stay.id in m
               for m in messages)
    assert any(m == 'instance %s started again' % stay.id for m in messages)
    assert {h['state'] for h in op.hosts().values()} == {'done'}


def test_unmovable_instances_skip_their_host_or_refuse_the_plan(operator):
    op = operator(non_live_migratable_fraction=0.25)
    _, servers = _servers(op)
    stuck = {s.compute_host for s in servers
             if 'upgrader:no-live-migration' in (s.metadata or {})}
    assert stuck
    planned = op.manage('rollout', 'plan', '--template',
                        'compute-rolling-upgrade', '--to', 'new',
                        '--format', 'json')
    # Planned, with warnings: the hosts of those instances are left out.
    assert planned.returncode == 1, planned.stdout + planned.stderr
    plan = json.loads(planned.stdout)['plan']
    assert set(plan['skipped_hosts']) == stuck
    assert all('cannot be live-migrated' in plan['skipped_hosts'][h]
               for h in stuck)
    assert not stuck & {h for w in plan['waves'] for h in w['hosts']}
    refused = op.manage('rollout', 'plan', '--template',
                        'compute-rolling-upgrade', '--to', 'new',
                        '--unmovable', 'fail')
    assert refused.returncode == 2
    assert 'cannot be live-migrated' in refused.stderr


def test_notify_and_wait_until_the_owner_shuts_it_down(operator):
    op = operator()
    conn, asked = _loaded_host_server(op)
    conn.compute.set_server_metadata(
        asked.id, **{'upgrader:action': 'notify-and-wait'})
    plan = op.plan()
    assert _stays(plan)[asked.id]['action'] == 'notify-and-wait'
    proc = op.start_in_background()
    try:
        notice = wait_for(lambda: [e for e in op.events()
                                   if asked.id in e['message']
                                   and 'must move it off' in e['message']],
                          timeout=120, interval=0.1)
        assert notice[0]['host'] == asked.compute_host
        # Its host waits: not rebooted while the instance runs.
        assert op.sim.report()['hosts'][asked.compute_host]['reboots'] == 0
        conn.compute.stop_server(asked.id)          # the owner's answer
        output, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    report = op.sim.report()
    _clean(report)
    # The owner's choice stands: it stays off, on its upgraded host.
    assert report['instances_shutoff'] == [asked.id]
    assert report['hosts'][asked.compute_host]['reboots'] == 1
    assert {h['state'] for h in op.hosts().values()} == {'done'}


def test_notify_and_wait_times_out_and_the_host_fails_cleanly(operator,
                                                              tmp_path):
    template = tmp_path / 'short-wait.yaml'
    template.write_text((SHIPPED / 'compute-rolling-upgrade.yaml').read_text()
                        .replace('name: compute-rolling-upgrade',
                                 'name: short-wait')
                        .replace('migration_timeout: 900',
                                 'migration_timeout: 900\n'
                                 '      owner_timeout: 1'))
    op = operator()
    conn, asked = _loaded_host_server(op)
    conn.compute.set_server_metadata(
        asked.id, **{'upgrader:action': 'notify-and-wait'})
    op.plan('--max-failed-hosts', '1', template=str(template))
    result = op.manage('rollout', 'start', 'r1', timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    hosts = op.hosts()
    host = asked.compute_host
    assert hosts[host]['state'] == 'error'
    assert 'neither moved it nor shut it down within 1s' in \
        hosts[host]['error']
    assert {r['state'] for h, r in hosts.items() if h != host} == {'done'}
    report = op.sim.report()
    _clean(report)
    # Reverted: enabled again, never rebooted, the instance untouched.
    assert report['hosts'][host]['status'] == 'enabled'
    assert report['hosts'][host]['reboots'] == 0
    after = conn.compute.get_server(asked.id)
    assert (after.status, after.compute_host) == ('ACTIVE', host)


def test_instances_that_cannot_live_migrate_are_cold_migrated(operator):
    # (stop-start chosen by the policy runs as when asked by a tag, above.)
    unmovable = 'cold-migrate'
    op = operator(non_live_migratable_fraction=0.25)
    conn, servers = _servers(op)
    stuck = {s.id for s in servers
             if 'upgrader:no-live-migration' in (s.metadata or {})}
    assert stuck
    plan = op.plan('--unmovable', unmovable)
    assert plan['skipped_hosts'] == {}
    found = dict(_stays(plan), **_moves(plan))
    assert {found[u]['action'] for u in stuck} == {unmovable}
    result = op.manage('rollout', 'start', 'r1', timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    report = op.sim.report()
    _clean(report)
    assert report['instances_shutoff'] == []
    kinds = {m.migration_type for u in stuck
             for m in conn.compute.migrations(instance_uuid=u)}
    assert kinds == {'migration'}
    assert {h['state'] for h in op.hosts().values()} == {'done'}
