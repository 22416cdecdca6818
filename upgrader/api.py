"""upgrader's Python API: the stable functions deployment tools call.

``upgrader-manage`` is a thin layer over these functions, so a tool that
calls them does what the command line does, without shelling out. Every
function takes the configuration (an oslo.config ``ConfigOpts`` with
upgrader's options, normally ``upgrader.conf.CONF``, parsed), returns
JSON-friendly values or stored records, and raises
:class:`upgrader.common.exception.UpgraderException` subclasses (each
carries the command line's exit code). Rollouts are named by name or uuid.

Stable:

- Releases: :func:`create_release`, :func:`get_release`,
  :func:`list_releases`, :func:`release_diff`, :func:`current_release`,
  :func:`set_current_release`.
- Plan (nothing in the cloud changes): :func:`plan_rollout`,
  :func:`plan_service_rollout` (one control-plane service),
  :func:`plan_release` (a full release, as a train of stages),
  :func:`plan_rollback` (back to the release before a rollout, or one
  service of it).
- Run: :func:`start` (here, or posted to the conductors with
  ``[jobboard] enabled``), :func:`resume`, :func:`pause`, :func:`abort`,
  :func:`retry_host`, :func:`skip_host`.
- Follow: :func:`status` (hosts, moves, counts and predictions),
  :func:`events` (after an event id), :func:`follow` (a generator of events
  until the rollout stops), :func:`watch` (the same with a callback),
  :func:`report` (everything the HTML report draws), :func:`list_rollouts`.
- Schedule: :func:`schedule_start` (a planned rollout at a time),
  :func:`schedule_recurring` (plan and start every month, ...),
  :func:`list_schedules`, :func:`get_schedule`, :func:`cancel_schedule`,
  :func:`start_due` (what the process running rollouts calls),
  :func:`next_due`, :func:`commit_due` (contract after a soak time).
- Schema changes of control-plane services: :func:`commit` (the contract
  migrations), :func:`rollback_restores` (what a rollback after it
  restores and loses).
- Housekeeping: :func:`purge_logbooks`.

The rest of the module (names starting with ``_``, :func:`post_on_board`) is
internal. Notifications of a rollout's milestones are configured, not
called: see :mod:`upgrader.notify`.
"""

import dataclasses
import datetime
import time

from oslo_log import log as logging
from oslo_utils import timeutils

from upgrader.common import exception
from upgrader.common import keys
from upgrader.common import recurrence
from upgrader.common import states
from upgrader.db import api as db_api
from upgrader.drivers import compute
from upgrader.drivers import controlplane
from upgrader.drivers import host as host_drivers
from upgrader.plan import history
from upgrader.plan import limits
from upgrader.plan import models as plan_models
from upgrader.plan import planner
from upgrader.plan import releases
from upgrader.plan import services as service_plans
from upgrader.plan import train
from upgrader.plan import window
from upgrader.workflow import templates

# The job board, the controller, TaskFlow's persistence and the embedded
# runner (upgrader.jobs) are imported by the functions that use them: they
# bring taskflow, kazoo and alembic, about half a second at the start of
# every command, which the commands reading only our tables do not need.
# But taskflow's engines import eventlet, and eventlet imported first in a
# thread (a tool calling start() in one) re-imports threading there: that
# thread can then never be joined. So eventlet comes now (about 10 ms).
try:
    import eventlet  # noqa: F401
except ImportError:
    pass

LOG = logging.getLogger(__name__)

# The owner recorded for a rollout run by the conductors of the job board.
ON_BOARD = 'jobboard'


# Policy keys the planner reads (the rest are the controller's).
PLANNER_POLICY = frozenset(f.name for f in dataclasses.fields(
    plan_models.Policy))

def create_release(conf, name, components, description=None, parent=None):
    """Record a release (immutable): ``components`` maps a component to its
    version; with ``parent`` (a release), its components are inherited
    unless given. :returns: the release, as a dict."""
    return db_api.get_instance().release_create(
        name, components, description=description, parent=parent).to_dict()


def get_release(conf, release):
    """A release (name or uuid), as a dict."""
    return db_api.get_instance().release_get(release).to_dict()


def list_releases(conf):
    return [r.to_dict() for r in db_api.get_instance().release_list()]


def plan_rollout(conf, template, to_release=None, hosts=None,
                 availability_zones=None, name=None, **policy):
    """Read the cloud, plan a rollout and store it (state ``planned``).

    Nothing in the cloud changes. Everything is checked before anything is
    stored: a bad template, release, host, zone or policy stores nothing.

    :param policy: overrides of the template's policy (see
        ``upgrader.workflow.templates.POLICY_KEYS``); None means the
        template's value.
    :returns: (rollout, plan)
    """
    dbapi = db_api.get_instance()
    release = (dbapi.release_get(to_release) if to_release is not None
               else None)
    tmpl, plan, merged = _compute_plan(conf, dbapi, template, release,
                                       hosts, availability_zones, policy)
    return _store_plan(dbapi, name, release, tmpl, plan, merged), plan


def _compute_plan(conf, dbapi, template, release, hosts=None,
                  availability_zones=None, policy=None):
    """(template, checked plan, merged policy) of a compute rollout to
    ``release`` (a Release or None); nothing stored."""
    tmpl = templates.load(conf, template)
    if release is None and 'upgrade_packages' in tmpl.task_names:
        raise exception.InvalidInput(
            reason='template %s upgrades packages: say to which release '
                   'with --to' % tmpl.name)
    merged = _merged_policy(tmpl, policy or {},
                            learned=lambda p: _learned(dbapi, p))
    inventory = compute.fetch(conf).get_inventory()
    plan = planner.make_plan(inventory, _plan_policy(merged), hosts=hosts,
                             availability_zones=availability_zones)
    _check_plan(conf, tmpl, plan, merged)
    return tmpl, plan, merged


def _merged_policy(tmpl, overrides, learned=None):
    """The rollout's policy: defaults, the template's, what history taught
    (``learned(policy)``), then the operator's overrides (None: not given);
    refused with the first problem found."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    problems = templates.policy_problems(overrides)
    if problems:
        raise exception.InvalidInput(reason='policy: %s' % problems[0])
    merged = dict({'max_parallel': 1, 'max_failed_hosts': 0}, **tmpl.policy)
    if learned is not None:
        merged.update(learned(merged))
    merged.update(overrides)
    _check_rollout_policy(merged)
    return merged


def _store_plan(dbapi, name, release, tmpl, plan, policy,
                target_versions=None, from_release=None, train=None):
    """Store a checked plan as a rollout from ``from_release`` (default: the
    cloud's current release) to ``release``, with a host run per planned
    host; return the rollout."""
    current = from_release or dbapi.current_release()
    rollout = dbapi.rollout_create(
        name=name, to_release=release.uuid if release else None,
        from_release=current.uuid if current else None,
        template_name=tmpl.name, template_content=tmpl.content,
        template_digest=tmpl.digest, plan=plan.to_dict(), policy=policy,
        train=train)
    for wave in plan.waves:
        for host in wave.hosts:
            dbapi.host_run_create(rollout.uuid, host, wave.index,
                                  target_versions=target_versions)
    return dbapi.rollout_get(rollout.uuid)


def _check_plan(conf, tmpl, plan, policy):
    """Refuse, at plan time, a plan that could not be carried out."""
    _check_host_access(conf, tmpl, plan)
    if 'enable_service' not in tmpl.task_names and any(
            s.action == plan_models.STOP_START
            for w in plan.waves for s in w.stays):
        # Its last step starts what evacuate stopped.
        raise exception.PlanError(
            reason='template %s has no enable_service step to start the '
                   'stop-start instances again' % tmpl.name)
    _check_window(plan, policy, _window(policy))


# Steps that act on the host itself, through the host-access driver.
HOST_ACCESS_STEPS = frozenset(['upgrade_packages', 'reboot'])


def _check_host_access(conf, tmpl, plan):
    """Refuse a plan whose hosts the host-access driver cannot reach (not in
    its inventory): found now, not mid-roll."""
    if not HOST_ACCESS_STEPS & set(tmpl.task_names):
        return
    hosts = [h for wave in plan.waves for h in wave.hosts]
    unknown = host_drivers.fetch(conf).unknown_hosts(hosts)
    if unknown:
        raise exception.PlanError(
            reason='%d host(s) of the rollout missing from the host '
                   'inventory of the %s host driver: %s'
                   % (len(unknown), conf.host_access.driver,
                      ', '.join(unknown)))


def _window(policy):
    return (window.parse(policy['maintenance_window'])
            if policy.get('maintenance_window') else None)


def _check_window(plan, policy, win):
    """Refuse a plan with a wave longer than the maintenance window."""
    if win is None:
        return
    for wave in plan.waves:
        if wave.predicted_seconds > win.seconds:
            raise exception.PlanError(
                reason='wave %d is predicted to take %d s, longer than '
                       'the %d s maintenance window %s'
                       % (wave.index, wave.predicted_seconds, win.seconds,
                          policy['maintenance_window']))


# How many of the latest rollouts that ran plans learn durations from.
LEARN_FROM = 5


def _learned(dbapi, policy):
    """Step durations and the migration rate of the latest rollouts that
    ran on this cloud, and their names (``learned_from``)."""
    past = [r for r in dbapi.rollout_list()
            if r.state not in (states.PLANNED,)][-LEARN_FROM:]
    records = [{'events': [_fields(e, 'host', 'step', 'message',
                                   'created_at')
                           for e in dbapi.event_list(rollout=r.uuid)],
                'moves': [_fields(m, 'instance_uuid', 'state', 'started_at',
                                  'finished_at')
                          for m in dbapi.instance_move_list(r.uuid)],
                'plan': r.plan} for r in past]
    learned = history.learn(records, policy.get(
        'migration_seconds_per_gib',
        plan_models.Policy.migration_seconds_per_gib))
    if 'step_seconds' in learned:
        learned['step_seconds'] = dict(
            policy.get('step_seconds', plan_models.DEFAULT_STEP_SECONDS),
            **learned['step_seconds'])
    if learned:
        learned['learned_from'] = [r.name for r in past]
    return learned


def _fields(row, *names):
    return {name: getattr(row, name) for name in names}


def _check_rollout_policy(policy):
    """Refuse what the planner does not check: the controller's values."""
    if policy['max_parallel'] < 1:
        raise exception.InvalidInput(reason='max_parallel cannot be %s'
                                     % policy['max_parallel'])
    limits.failure_budget(policy['max_failed_hosts'], 0)
    if policy.get('on_failure', templates.ON_FAILURE_FAIL) not in (
            templates.ON_FAILURE_FAIL, templates.ON_FAILURE_PAUSE):
        raise exception.InvalidInput(
            reason='on_failure is %s or %s, not %r' % (
                templates.ON_FAILURE_FAIL, templates.ON_FAILURE_PAUSE,
                policy['on_failure']))
    for key in ('canary_soak_seconds', 'pause_between_waves'):
        if policy.get(key, 0) < 0:
            raise exception.InvalidInput(reason='%s cannot be negative'
                                         % key)


def start(conf, rollout, on_event=None, max_failed_hosts=None):
    """Run a planned rollout here, to its end. Returns its final state.

    :param max_failed_hosts: overrides the failure budget stored with the
        rollout's plan.
    """
    from upgrader.jobs import runner
    dbapi = db_api.get_instance()
    if max_failed_hosts is not None:
        limits.failure_budget(max_failed_hosts, 0)
        found = dbapi.rollout_get(rollout)
        if found.state != states.PLANNED:
            raise exception.Conflict(
                reason='rollout %s is %s, not planned' % (found.name,
                                                         found.state))
        policy = dict(found.policy or {}, max_failed_hosts=max_failed_hosts)
        dbapi.rollout_update(found.uuid, {'policy': policy},
                             expected_state=states.PLANNED)
    if conf.jobboard.enabled:
        return _run_on_board(conf, dbapi, rollout, False, on_event)
    return runner.run(conf, dbapi, rollout, on_event=on_event)


def pause(conf, rollout):
    """Pause a running rollout: the wave in flight finishes, the next one
    waits for :func:`resume`.

    :returns: the rollout's new state.
    """
    dbapi = db_api.get_instance()
    found = dbapi.rollout_get(rollout)
    if found.state != states.RUNNING:
        raise exception.Conflict(reason='rollout %s is %s: only a running '
                                 'rollout can be paused'
                                 % (found.name, found.state))
    for paused in _with_stage(dbapi, found, states.RUNNING):
        dbapi.rollout_update(paused.uuid, {
            'state': states.PAUSED, 'paused_reason': 'paused by the '
                                                     'operator'},
            expected_state=states.RUNNING)
        dbapi.event_add('paused by the operator', rollout=paused.uuid)
    return states.PAUSED


def resume(conf, rollout, on_event=None):
    """Resume a paused or aborted rollout, or one whose process died; follow
    it to its end and return its final state.

    A paused rollout whose controller still runs (a canary waiting for
    approval, an operator's pause) goes on from its next wave.
    """
    from upgrader.jobs import runner
    dbapi = db_api.get_instance()
    found = dbapi.rollout_get(rollout)
    if found.state == states.PAUSED and (found.owner == ON_BOARD
                                         or runner.owner_alive(found.owner)):
        for paused in _with_stage(dbapi, found, states.PAUSED):
            dbapi.rollout_update(paused.uuid, {'state': states.RUNNING,
                                               'paused_reason': None},
                                 expected_state=states.PAUSED)
            dbapi.event_add('resumed by the operator', rollout=paused.uuid)
        return watch(conf, found.uuid, on_event)
    if conf.jobboard.enabled:
        return _run_on_board(conf, dbapi, rollout, True, on_event)
    return runner.run(conf, dbapi, rollout, resume=True, on_event=on_event)


def _run_on_board(conf, dbapi, rollout, resume, on_event):
    """Post the rollout's controller job for the conductors, then watch.

    Posting is idempotent: resuming a rollout whose controller job is still
    on the board posts nothing and only watches.
    """
    from upgrader.jobs import board as job_board
    try:
        found = post_on_board(conf, rollout, resume)
    finally:
        job_board.close_client()
    return watch(conf, found.uuid, on_event)


def post_on_board(conf, rollout, resume=False):
    """Post the rollout's controller job for the conductors; return the
    rollout. The process's ZooKeeper client stays open (a conductor starting
    a scheduled rollout shares it)."""
    from upgrader.jobs import board as job_board
    from upgrader.jobs import controller
    from upgrader.jobs import persistence
    from upgrader.jobs import runner
    dbapi = db_api.get_instance()
    found = dbapi.rollout_get(rollout)
    if not (resume and found.state in states.ROLLOUT_ACTIVE
            and found.owner == ON_BOARD):
        runner.take(dbapi, found, resume, owner=ON_BOARD)
    backend = persistence.get_backend(conf)
    try:
        board = job_board.get_board(conf, backend)
        try:
            detail, attempt = controller.controller_detail(backend, found)
            book = persistence.logbook_for(backend, found.name, found.uuid)
            job_board.post_once(
                board, job_board.controller_job_name(found.uuid, attempt),
                book, detail, rollout=found.uuid)
        finally:
            board.close()
    finally:
        backend.close()
    return found



def follow(conf, rollout, interval=0.5):
    """Yield a rollout's events (dicts, as :func:`events`) as they are
    recorded, from its first, until it has started and is no longer
    running, paused or aborting; the generator's return value is its final
    state. A planned rollout is waited for (another thread or process
    starts it, or its schedule does)."""
    dbapi = db_api.get_instance()
    last = None
    while True:
        state = dbapi.rollout_get(rollout).state
        for event in dbapi.event_list(rollout=rollout, after_id=last):
            last = event.id
            yield event.to_dict()
        if state not in states.ROLLOUT_ACTIVE | {states.PLANNED}:
            return state
        time.sleep(interval)


def watch(conf, rollout, on_event=None, interval=0.5):
    """Follow a rollout's events until it ends; return its final state.

    :param on_event: called as ``on_event('logged', {'host', 'step',
        'message', 'level'})`` for each event.
    """
    events_of = follow(conf, rollout, interval)
    while True:
        try:
            event = next(events_of)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event('logged', {'host': event['host'], 'step': event['step'],
                                'message': event['message'],
                                'level': event['level'].upper()})


def abort(conf, rollout):
    """Ask a running rollout to stop: in-flight steps finish, nothing new
    starts. A rollout whose process is gone is marked aborted at once.

    :returns: the rollout's new state.
    """
    from upgrader.jobs import runner
    dbapi = db_api.get_instance()
    found = dbapi.rollout_get(rollout)
    if found.state == states.PLANNED or (
            found.state in states.ROLLOUT_ACTIVE
            and not runner.owner_alive(found.owner)):
        new = states.ABORTED
    elif found.state in (states.RUNNING, states.PAUSED):
        new = states.ABORTING
    else:
        raise exception.Conflict(reason='rollout %s is %s: nothing to abort'
                                 % (found.name, found.state))
    dbapi.rollout_update(found.uuid, {'state': new},
                         expected_state=found.state)
    stage = _active_stage(dbapi, found)
    if stage is not None:
        dbapi.rollout_update(stage.uuid, {'state': new},
                             expected_state=stage.state)
    return new


def _active_stage(dbapi, train_rollout):
    """The stage of a release train that runs, is paused or is aborting
    (None if none does, or ``train_rollout`` is no train)."""
    return next((r for r in _stages(dbapi, train_rollout)
                 if r.state in states.ROLLOUT_ACTIVE), None)


def _with_stage(dbapi, found, state):
    """``found``, and its active stage if it is a release train whose
    stage is in ``state``."""
    stage = _active_stage(dbapi, found)
    return [found] + ([stage] if stage and stage.state == state else [])


def retry_host(conf, rollout, host):
    """Run a failed host again, from its first step, on the next
    :func:`resume` of its rollout: a stopped one (failed or aborted) runs
    its waves again; a paused one runs its current wave again.

    The host reverted itself when it failed: it is enabled, on its old
    packages. What its steps remembered is forgotten, so they look at the
    host afresh.
    """
    from taskflow import exceptions as tf_exc

    from upgrader.jobs import dispatcher
    from upgrader.jobs import persistence
    dbapi = db_api.get_instance()
    found, run = _stopped_host(dbapi, rollout, host, 'retry',
                               (states.HOST_ERROR,))
    _check_retryable(conf, found, host)
    backend = persistence.get_backend(conf)
    try:
        detail = persistence.get_flow_detail(
            backend, dispatcher.host_flow_uuid(found.uuid, host))
        engine = persistence.load_engine(backend, detail,
                                         store=detail.meta['store'])
        engine.compile()
        engine.prepare()
        engine.reset()
    except tf_exc.NotFound:
        pass                    # it never started: nothing to reset
    finally:
        backend.close()
    dbapi.host_run_update(found.uuid, host, {
        'state': states.HOST_PENDING, 'error': None, 'step': None,
        'facts': None, 'started_at': None, 'finished_at': None})
    dbapi.event_add('to be retried (was: %s)' % run.error,
                    rollout=found.uuid, host=host)
    return states.HOST_PENDING


def _check_retryable(conf, rollout, host):
    """A retried host must hold only instances its plan knows: a later
    wave may have taken the failed (reverted, enabled) host for upgraded
    and moved instances onto it, which its flow would refuse to drain."""
    wave = plan_models.Plan.from_dict(rollout.plan).wave_of(host)
    known = set(wave.actions_on(host)) if wave else set()
    extra = [i.uuid for i in compute.fetch(conf).list_instances(host=host)
             if i.uuid not in known]
    if extra:
        raise exception.Conflict(
            reason='host %s holds %d instance(s) its plan does not drain '
                   '(moved there by later waves after it failed): skip it '
                   'and upgrade it in a new rollout' % (host, len(extra)))


def skip_host(conf, rollout, host):
    """Leave a pending or failed host of a paused or stopped rollout alone:
    it is not upgraded, and no longer counts against the failure budget."""
    dbapi = db_api.get_instance()
    found, run = _stopped_host(dbapi, rollout, host, 'skip',
                               (states.HOST_PENDING, states.HOST_ERROR))
    dbapi.host_run_update(found.uuid, host, {'state': states.HOST_SKIPPED})
    dbapi.event_add('skipped by the operator (was %s)' % run.state,
                    rollout=found.uuid, host=host)
    return states.HOST_SKIPPED


def _stopped_host(dbapi, rollout, host, action, host_states):
    """The rollout and the host's run, if ``action`` may act on them now."""
    found = dbapi.rollout_get(rollout)
    if found.state not in (states.FAILED, states.ABORTED, states.PAUSED):
        raise exception.Conflict(
            reason='rollout %s is %s: %s-host needs a paused or stopped '
                   'rollout (failed or aborted), then rollout resume'
                   % (found.name, found.state, action))
    run = dbapi.host_run_get(found.uuid, host)
    if run.state not in host_states:
        raise exception.Conflict(
            reason='host %s is %s in rollout %s; %s-host takes a host that '
                   'is %s' % (host, run.state, found.name, action,
                              ' or '.join(host_states)))
    return found, run


def status(conf, rollout, events=False):
    """A rollout, its hosts and its instance moves (and, if asked, its
    events), as a dict."""
    dbapi = db_api.get_instance()
    found = dbapi.rollout_get(rollout)
    data = found.to_dict()
    plan = data.pop('plan') or {}
    if 'stages' in plan:
        # A release train: its stages, and the hosts, moves and counts of
        # the one that runs (or ran last).
        stages = {r.uuid: r for r in _stages(dbapi, found)}
        data['stages'] = [dict(
            index=i, kind=s['kind'], what=train.describe(s),
            rollout=s.get('rollout'),
            state=stages[s['uuid']].state if s.get('uuid') else None)
            for i, s in enumerate(plan['stages'], 1)]
        started = [r for r in stages.values() if r.state != states.PLANNED]
        if started:
            found = started[-1]
            plan = found.plan or {}
            data['stage'] = found.name
    data['hosts'] = [h.to_dict() for h in dbapi.host_run_list(found.uuid)]
    for host in data['hosts']:
        host.pop('facts', None)
    moves = [m.to_dict() for m in dbapi.instance_move_list(found.uuid)]
    data['moves'] = moves
    if events:
        data['events'] = [e.to_dict()
                          for e in dbapi.event_list(rollout=found.uuid)]
    data['summary'] = {
        'waves': len(plan.get('waves', [])),
        'hosts': _count(data['hosts'], 'state'),
        'migrations_planned': sum(len(w['moves'])
                                  for w in plan.get('waves', [])),
        'migrations': _count(moves, 'state'),
        'skipped_hosts': plan.get('skipped_hosts', {}),
        'predicted_seconds': plan.get('predicted_seconds'),
        'wave_predicted_seconds': [w['predicted_seconds']
                                   for w in plan.get('waves', [])],
    }
    return data


def events(conf, rollout, after_id=None):
    """A rollout's events as dicts, oldest first; ``after_id`` (the
    ``id`` of the last one seen) gives only the newer ones, to follow a
    rollout."""
    dbapi = db_api.get_instance()
    found = dbapi.rollout_get(rollout)
    # A release train's are its own and its stages'.
    return [e.to_dict() for e in dbapi.event_list(
        rollout=[found.uuid] + [r.uuid for r in _stages(dbapi, found)],
        after_id=after_id)]


def _stages(dbapi, train_rollout):
    """The stage rollouts of a release train, in order (none for another
    rollout)."""
    return [r for r in dbapi.rollout_list() if r.train_id == train_rollout.id]


def report(conf, rollout):
    """Everything a report of the rollout shows, as one JSON-friendly dict.

    :returns: :func:`status` with events, plus ``plan``: the plan's
        predictions (``predicted_seconds``, ``migrations``,
        ``lower_bound_migrations``, ``skipped_hosts``, ``warnings`` and
        ``waves``: ``index``, ``hosts``, ``predicted_seconds``,
        ``migrations`` each), and ``generated_at`` (ISO, naive UTC).
        :func:`upgrader.report.html.render` draws it.
    """
    data = status(conf, rollout, events=True)
    plan = db_api.get_instance().rollout_get(data['uuid']).plan or {}
    waves = plan.get('waves', [])
    data['plan'] = {
        'predicted_seconds': plan.get('predicted_seconds'),
        'migrations': sum(len(w['moves']) for w in waves),
        'lower_bound_migrations': plan.get('lower_bound_migrations'),
        'skipped_hosts': plan.get('skipped_hosts', {}),
        'warnings': plan.get('warnings', []),
        'waves': [{'index': w['index'], 'hosts': w['hosts'],
                   'predicted_seconds': w['predicted_seconds'],
                   'migrations': len(w['moves'])} for w in waves],
    }
    data['generated_at'] = timeutils.utcnow().isoformat()
    return data


def _count(items, key):
    counts = {}
    for item in items:
        counts[item[key]] = counts.get(item[key], 0) + 1
    return counts


def list_rollouts(conf):
    return [r.to_dict() for r in db_api.get_instance().rollout_list()]


def purge_logbooks(conf, older_than_days=None):
    """Delete the TaskFlow logbooks of rollouts that succeeded at least
    ``older_than_days`` ago (default: ``[persistence] retention_days``).

    Only succeeded rollouts: an aborted or failed one may still be resumed
    from its logbook. Our tables keep every rollout's record.

    :returns: the names of the rollouts whose logbook was deleted.
    """
    from upgrader.jobs import persistence
    days = (conf.persistence.retention_days if older_than_days is None
            else older_than_days)
    if days < 0:
        raise exception.InvalidInput(reason='days cannot be negative')
    cutoff = timeutils.utcnow() - datetime.timedelta(days=days)
    dbapi = db_api.get_instance()
    backend = persistence.get_backend(conf)
    purged = []
    try:
        for rollout in dbapi.rollout_list(state=states.SUCCEEDED):
            if rollout.finished_at is None or rollout.finished_at > cutoff:
                continue
            if persistence.destroy_logbook(backend, rollout.uuid):
                dbapi.event_add('TaskFlow logbook purged', rollout=rollout.uuid)
                purged.append(rollout.name)
    finally:
        backend.close()
    return purged


def release_diff(conf, old, new):
    """What moving the cloud from release ``old`` to ``new`` changes.

    :returns: :func:`upgrader.plan.releases.diff` of their components, with
        ``from`` and ``to`` (the two release names).
    """
    dbapi = db_api.get_instance()
    old_release, new_release = dbapi.release_get(old), dbapi.release_get(new)
    return dict(releases.diff(old_release.versions, new_release.versions),
                **{'from': old_release.name, 'to': new_release.name})


def set_current_release(conf, release, note=None):
    """Record that the cloud runs ``release`` now, as the operator says
    (the first time, or after changing it by other means). A rollout that
    succeeds on every host records its release by itself."""
    dbapi = db_api.get_instance()
    return dbapi.deployment_add(release, note=note or 'set by the operator')


def current_release(conf):
    """The cloud's current release (a dict, or None) and the history of
    the releases it moved to (oldest first)."""
    dbapi = db_api.get_instance()
    current = dbapi.current_release()
    return (current.to_dict() if current else None,
            [d.to_dict() for d in dbapi.deployment_list()])


def plan_rollback(conf, rollout, name=None, service=None, restore=False):
    """Plan a rollout that takes ``rollout`` back, and store it (planned).

    It moves the cloud from the rollout's release back to the one before
    (its ``from_release``), with the same template and policy: the hosts
    the rollout changed are drained again, their packages go back to the
    versions recorded on each host before it was upgraded, and they reboot
    into them; the planner drains each host onto hosts already rolled back
    (or untouched), so each instance moves at most once. A host whose
    packages are already the recorded ones (it reverted itself, or was
    never reached) is left alone. Nothing in the cloud changes here.

    A rollout of control-plane services (``service-update``) is taken back
    the same way, one controller at a time out of the load balancer, to the
    service versions each controller had before.

    After ``rollout commit`` (the contract migrations ran) the old code
    cannot use the schema: the databases of :func:`rollback_restores` are
    first restored from the rollout's backup, losing what was written since.

    :param service: take back only this component (a service, or a
        package of a compute rollout); the others keep their versions. Its
        release is then the current one with that component changed back,
        so the new rollout records none.
    :param restore: the operator accepts those restores (and their loss).

    A release train (:func:`plan_release`) is taken back by a train of
    the rollbacks of its stages that changed something, last first, with
    the compute RPC pinned while the computes go back before the Nova
    services (the expands stay: old code runs on them).

    :returns: (rollout, plan) of the new rollout; for a release train,
        (the new train, its stages as :func:`plan_release` returns them).
    :raises Conflict: the rollout is still planned or running, it changed
        nothing that can be taken back, or it needs a restore and
        ``restore`` is false (nothing changes then).
    """
    dbapi = db_api.get_instance()
    original = dbapi.rollout_get(rollout)
    if original.state == states.PLANNED or (
            original.state in states.ROLLOUT_ACTIVE):
        raise exception.Conflict(
            reason='rollout %s is %s: only a rollout that ended (succeeded, '
                   'failed or aborted) can be rolled back'
                   % (original.name, original.state))
    if 'stages' in (original.plan or {}):
        return _plan_train_rollback(conf, dbapi, original, name, service,
                                    restore)
    tmpl = templates.parse(original.template_content or '',
                           original.template_name or original.name)
    steps = set(tmpl.task_names)
    if not steps & {'upgrade_packages', 'install_service'}:
        raise exception.Conflict(
            reason='rollout %s (template %s) changed no versions: nothing '
                   'to roll back' % (original.name, tmpl.name))
    targets = _rollback_targets(conf, dbapi, original,
                                'install_service' in steps, service)
    if not targets:
        raise exception.Conflict(
            reason='nothing to roll back: every host of rollout %s runs the '
                   'versions it had before it%s' % (
                       original.name, ' (%s)' % service if service else ''))
    policy = dict(original.policy or {})
    if 'install_service' in steps:
        restores = rollback_restores(conf, original.uuid, service=service)
        if restores and not restore:
            raise exception.Conflict(
                reason='rollout %s was committed: its rollback restores %s '
                       'from backup, losing what was written since; confirm '
                       'it (rollout rollback --yes)' % (
                           original.name,
                           ', '.join(r['database'] for r in restores)))
        plan = service_plans.make_plan(sorted(targets), _plan_policy(policy),
                                       tmpl.task_names)
        _check_plan(conf, tmpl, plan, policy)
        back, plan = _store_rollback(dbapi, original, tmpl, policy, targets,
                                     name, plan, service)
        _restore(conf, dbapi, original, back, restores)
        return back, plan
    for pinned in ('first_hosts', 'last_hosts'):
        # Pinned hosts that need no rollback are not in its selection.
        if policy.get(pinned):
            policy[pinned] = [h for h in policy[pinned] if h in targets]
    plan = planner.make_plan(compute.fetch(conf).get_inventory(),
                             _plan_policy(policy), hosts=sorted(targets))
    _check_plan(conf, tmpl, plan, policy)
    return _store_rollback(dbapi, original, tmpl, policy, targets, name, plan,
                           service)


def _plan_train_rollback(conf, dbapi, original, name, service, restore):
    """See :func:`plan_rollback`: a release train's rollback."""
    stages = [(s, dbapi.rollout_get(s['uuid']) if s.get('uuid') else None)
              for s in original.plan['stages']]
    ran = [(s, r) for s, r in stages if r is not None
           and r.state != states.PLANNED]
    if service is not None:
        # One component: the rollback of the stage that changed it.
        for stage, stage_rollout in ran:
            if service == stage.get('service') or service in stage.get(
                    'versions', {}):
                return plan_rollback(conf, stage_rollout.uuid, name=name,
                                     service=service, restore=restore)
        raise exception.Conflict(reason='release train %s changed no %s'
                                 % (original.name, service))
    if not restore and any(rollback_restores(conf, r.uuid) for _s, r in ran):
        raise exception.Conflict(
            reason='a stage of release train %s was committed: its rollback '
                   'restores from backup, losing what was written since; '
                   'confirm it (rollout rollback --yes)' % original.name)
    name = name or '%s-rollback' % original.name
    pin = next((s for s, _r in stages if s['kind'] == train.PIN), None)
    back = []
    for stage, stage_rollout in reversed(stages):
        kind = stage['kind']
        if kind == train.UNPIN:
            back.append(dict(pin, kind=train.PIN))
        elif kind == train.PIN:
            back.append({'kind': train.UNPIN, 'service': stage['service']})
        elif stage_rollout is not None and stage_rollout.state != \
                states.PLANNED:
            before = stage_rollout.from_release.versions
            what = stage.get('service', 'computes')
            try:
                rollout, plan = plan_rollback(
                    conf, stage_rollout.uuid, restore=restore,
                    name='%s.%d-%s' % (name, len(back) + 1, what))
            except exception.Conflict:
                if not _nothing_to_roll_back(conf, stage_rollout):
                    raise
                continue
            found = dict(stage, rollout=rollout.name, uuid=rollout.uuid,
                         plan=plan)
            if kind == train.SERVICE:
                found['version'] = before[what]
            else:
                found['versions'] = {c: before[c] for c in stage['versions']}
            back.append(found)
    if not any('uuid' in s for s in back):
        raise exception.Conflict(reason='nothing to roll back: release '
                                 'train %s changed nothing' % original.name)
    parent = dbapi.rollout_create(
        name=name, from_release=original.to_release_id,
        to_release=original.from_release_id, template_name=train.TEMPLATE,
        policy={}, rollback_of=original.uuid, plan={'waves': [], 'stages': [
            {k: v for k, v in s.items() if k != 'plan'} for s in back]})
    for stage in back:
        if 'uuid' in stage:
            dbapi.rollout_update(stage['uuid'], {'train_id': parent.id})
    return dbapi.rollout_get(parent.uuid), back


def _nothing_to_roll_back(conf, rollout):
    """Whether every host of ``rollout`` runs what it ran before it."""
    tmpl = templates.parse(rollout.template_content or '',
                           rollout.template_name or rollout.name)
    return not _rollback_targets(conf, db_api.get_instance(), rollout,
                                 'install_service' in tmpl.task_names)


def _plan_policy(policy):
    return plan_models.Policy(**{k: v for k, v in policy.items()
                                 if k in PLANNER_POLICY})


def _store_rollback(dbapi, original, tmpl, policy, targets, name, plan,
                    service=None):
    whole = service is None or (
        original.from_release is not None and original.to_release is not None
        and set(releases.diff(original.from_release.versions,
                              original.to_release.versions)['changed'])
        == {service})
    back = dbapi.rollout_create(
        name=name or '%s-rollback' % original.name,
        from_release=original.to_release_id,
        # One component back of several changed: no release describes the
        # cloud then, so none is recorded.
        to_release=original.from_release_id if whole else None,
        template_name=tmpl.name,
        template_content=original.template_content,
        template_digest=original.template_digest, plan=plan.to_dict(),
        policy=policy, rollback_of=original.uuid)
    for wave in plan.waves:
        for host in wave.hosts:
            dbapi.host_run_create(back.uuid, host, wave.index,
                                  target_versions=targets[host])
    dbapi.event_add('plans the rollback of rollout %s (%d host(s))'
                    % (original.name, len(targets)), rollout=back.uuid)
    return dbapi.rollout_get(back.uuid), plan


def _rollback_targets(conf, dbapi, original, of_services, only=None):
    """{host: versions before ``original``} for each host whose packages
    (or control-plane services), read on the host now, are not those
    versions any more; only component ``only`` if given."""
    if of_services:
        cp = controlplane.fetch(conf)
        fact = keys.PREVIOUS_SERVICE_VERSIONS

        def installed(host, names):
            found = cp.host_services(host)
            return {s: found[s]['version'] for s in names if s in found}
    else:
        hosts = host_drivers.fetch(conf)
        fact = keys.PREVIOUS_VERSIONS

        def installed(host, names):
            return hosts.status(host, packages=names).packages
    targets = {}
    for run in dbapi.host_run_list(original.uuid):
        previous = {c: v for c, v in ((run.facts or {}).get(fact) or {})
                    .items() if only is None or c == only}
        if not previous:
            continue            # never reached its install step
        now = installed(run.host, sorted(previous))
        if any(now.get(c) != v for c, v in previous.items()):
            targets[run.host] = previous
    return targets


def plan_service_rollout(conf, template, service, to_release, name=None,
                         **policy):
    """Plan a rollout of one control-plane service to its version in
    ``to_release`` and store it (planned): its controllers that run another
    version, in waves that always leave a backend in the load balancer.

    Nothing changes in the cloud. The rollout's release is ``to_release``:
    make it from the current one with only this service changed
    (``release create --parent``), and it becomes the cloud's release when
    the rollout succeeds on every controller.

    :returns: (rollout, plan)
    """
    dbapi = db_api.get_instance()
    release = dbapi.release_get(to_release)
    version = release.versions.get(service)
    if version is None:
        raise exception.InvalidInput(reason='release %s has no %s'
                                     % (release.name, service))
    tmpl, plan, merged = _compute_service_plan(conf, template, service,
                                               version, policy)
    return _store_plan(dbapi, name, release, tmpl, plan, merged,
                       target_versions={service: version}), plan


def _compute_service_plan(conf, template, service, version, policy):
    """(template, checked plan, merged policy) of a rollout of one
    control-plane service to ``version``; nothing stored."""
    tmpl = templates.load(conf, template)
    if 'install_service' not in tmpl.task_names:
        raise exception.InvalidInput(
            reason='template %s changes no control-plane service' % tmpl.name)
    merged = _merged_policy(tmpl, policy)
    running = controlplane.fetch(conf).service_hosts(service)
    hosts = sorted(h for h, v in running.items() if v['version'] != version)
    if not hosts:
        raise exception.Conflict(reason='every controller already runs %s %s'
                                 % (service, version))
    plan = service_plans.make_plan(hosts, _plan_policy(merged),
                                   tmpl.task_names)
    _check_plan(conf, tmpl, plan, merged)
    return tmpl, plan, merged


def plan_release(conf, to_release, name=None, **policy):
    """Plan a release train from the cloud's current release to
    ``to_release`` and store it (planned): the stages of
    :func:`upgrader.plan.train.stages` (database expands, one rolling
    stage per control-plane service in the upstream order, the compute RPC
    pin around the Nova services, the computes last), each rolling stage a
    rollout of its own (``<name>.<n>-<service>``) moving the cloud to a
    release of its own (``<name>-<n>-<service>``, the last one
    ``to_release``) that differs from the one before only there.

    Nothing changes in the cloud, and everything is planned before
    anything is stored: a stage that cannot be planned stores nothing.

    :param policy: overrides of the compute stage's policy, as for
        :func:`plan_rollout`; the service stages keep their templates'.
    :returns: (the train's rollout, [stage dicts, each rolling stage with
        its 'rollout' name and 'plan']).
    """
    dbapi = db_api.get_instance()
    target = dbapi.release_get(to_release)
    current = dbapi.current_release()
    if current is None:
        raise exception.Conflict(
            reason='the cloud has no current release to start from: '
                   'release set-current first')
    cp = controlplane.fetch(conf)
    found = train.stages(current.versions, target.versions,
                         _control_plane_services(cp, target.versions),
                         cp.generation)
    if not found:
        raise exception.Conflict(reason='the cloud already runs release %s'
                                 % target.name)
    name = name or 'train-%s' % target.name
    # Plan every rolling stage first, from the cloud as it is now.
    planned = []
    for stage in found:
        if stage['kind'] == train.SERVICE:
            planned.append(_compute_service_plan(
                conf, stage['template'], stage['service'], stage['version'],
                {}))
        elif stage['kind'] == train.COMPUTES:
            planned.append(_compute_plan(conf, dbapi, stage['template'],
                                         target, policy=policy))
        else:
            planned.append(None)
    parent = dbapi.rollout_create(
        name=name, from_release=current.uuid, to_release=target.uuid,
        template_name=train.TEMPLATE, policy={},
        plan={'stages': found, 'waves': []})
    before = current
    for index, (stage, computed) in enumerate(zip(found, planned), 1):
        if computed is None:
            continue
        tmpl, plan, merged = computed
        what = stage.get('service', 'computes')
        if stage['kind'] == train.SERVICE:
            versions = dict(before.versions, **{what: stage['version']})
            after = target if versions == target.versions else \
                dbapi.release_create('%s-%d-%s' % (name, index, what),
                                     {what: stage['version']},
                                     parent=before.uuid)
            targets = {what: stage['version']}
        else:
            after, targets = target, None
        child = _store_plan(dbapi, '%s.%d-%s' % (name, index, what), after,
                            tmpl, plan, merged, target_versions=targets,
                            from_release=before, train=parent.uuid)
        stage.update(rollout=child.name, uuid=child.uuid, plan=plan)
        before = after
    dbapi.rollout_update(parent.uuid, {'plan': {
        'stages': [{k: v for k, v in s.items() if k != 'plan'}
                   for s in found], 'waves': []}})
    return dbapi.rollout_get(parent.uuid), found


def _control_plane_services(cp, components):
    """The components the control plane runs (the others are packages)."""
    running = set()
    for component in components:
        try:
            cp.service_hosts(component)
        except exception.NotFound:
            continue
        running.add(component)
    return running


def schedule_start(conf, rollout, at):
    """Start a planned rollout at ``at`` (a datetime; naive means UTC).

    The schedule is kept in the database: whichever process runs rollouts
    starts it (:func:`start_due`). :returns: the schedule, as a dict.
    """
    dbapi = db_api.get_instance()
    found = dbapi.rollout_get(rollout)
    if found.state != states.PLANNED:
        raise exception.Conflict(reason='rollout %s is %s, not planned'
                                 % (found.name, found.state))
    if dbapi.schedule_list(state=states.SCHEDULED, rollout=found.uuid):
        raise exception.Conflict(reason='rollout %s is already scheduled'
                                 % found.name)
    return dbapi.schedule_create(_utc(at), rollout=found.uuid,
                                 name='%s-start' % found.name).to_dict()


def schedule_recurring(conf, every, at, template, name=None,
                       to_release=None, hosts=None, availability_zones=None,
                       **policy):
    """Plan and start a rollout every ``every`` (``month``, ``2 weeks``),
    the first at ``at``: each occurrence plans afresh from the template and
    policy given here (see :func:`plan_rollout`), so it sees the cloud as
    it is then. With a maintenance window in the policy, an occurrence
    waits for the window to open.

    :returns: the schedule, as a dict.
    """
    recurrence.parse_every(every)
    templates.load(conf, template)
    if to_release is not None:
        db_api.get_instance().release_get(to_release)
    overrides = {k: v for k, v in policy.items() if v is not None}
    problems = templates.policy_problems(overrides)
    if problems:
        raise exception.InvalidInput(reason='policy: %s' % problems[0])
    if overrides.get('maintenance_window'):
        window.parse(overrides['maintenance_window'])
    spec = {'template': template, 'to_release': to_release,
            'hosts': hosts, 'availability_zones': availability_zones,
            'policy': overrides}
    return db_api.get_instance().schedule_create(
        _in_window(spec, _utc(at)), name=name, spec=spec,
        every=every).to_dict()


def list_schedules(conf):
    return [s.to_dict() for s in db_api.get_instance().schedule_list()]


def get_schedule(conf, schedule):
    """A schedule (name or uuid), as a dict."""
    return db_api.get_instance().schedule_get(schedule).to_dict()


def cancel_schedule(conf, schedule):
    """Cancel a schedule: nothing more starts from it."""
    dbapi = db_api.get_instance()
    found = dbapi.schedule_get(schedule)
    return dbapi.schedule_update(
        found.uuid, {'state': states.SCHEDULE_CANCELLED},
        expected_state=states.SCHEDULED).to_dict()


def next_due(conf):
    """When the next schedule is due (naive UTC), or None."""
    pending = db_api.get_instance().schedule_list(state=states.SCHEDULED)
    return pending[0].next_run_at if pending else None


def start_due(conf, now=None, only=None):
    """Take every schedule due by ``now``: of two processes doing this at
    once, each occurrence goes to one (its next run is moved on with a
    compare and swap). Yields the rollouts to start, as dicts: the planned
    one, or one planned now for a recurring schedule. The caller starts
    each (:func:`start`, or :func:`post_on_board` in a conductor).

    :param only: only this schedule (name or uuid).
    """
    dbapi = db_api.get_instance()
    now = now or timeutils.utcnow()
    for due in dbapi.schedule_list(state=states.SCHEDULED, due_before=now):
        if only is not None and only not in (due.name, due.uuid):
            continue
        if due.every:
            values = {'next_run_at': _in_window(due.spec, (
                recurrence.next_after(due.next_run_at, due.every, now)))}
        else:
            values = {'state': states.SCHEDULE_DONE}
        try:
            dbapi.schedule_update(due.uuid, values,
                                  expected_state=states.SCHEDULED,
                                  expected_next_run_at=due.next_run_at)
        except exception.StateConflict:
            continue                    # another process took it
        try:
            rollout = due.rollout
            if due.every:
                spec = dict(due.spec)
                rollout, _plan = plan_rollout(
                    conf, spec['template'], to_release=spec['to_release'],
                    hosts=spec['hosts'],
                    availability_zones=spec['availability_zones'],
                    name='%s-%s' % (due.name, due.next_run_at.strftime(
                        '%Y%m%dT%H%M')), **spec['policy'])
        except exception.UpgraderException as e:
            dbapi.schedule_update(due.uuid, {'error': str(e)})
            LOG.error('Schedule %s could not plan its rollout: %s',
                      due.name, e)
            continue
        dbapi.schedule_update(due.uuid, {'last_rollout': rollout.uuid,
                                         'error': None})
        yield rollout.to_dict()


def _utc(when):
    if when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return when


def _in_window(spec, when):
    """``when``, or the next opening of the spec's maintenance window."""
    text = (spec.get('policy') or {}).get('maintenance_window')
    if not text:
        return when
    opens = window.next_start(window.parse(text),
                              when.replace(tzinfo=datetime.timezone.utc), 0)
    return _utc(opens)


# -- contract, and the database restore of a rollback after it -------------

def _schema_targets(cp, dbapi, found, versions_of):
    """{database: (generation, [services])} of the control-plane services
    ``versions_of(host_run)`` names on the rollout's host runs."""
    targets = {}
    for run in dbapi.host_run_list(found.uuid):
        for service, version in sorted((versions_of(run) or {}).items()):
            try:
                db = cp.database(service)['name']
            except exception.NotFound:
                continue            # a package, not a control-plane service
            gen, names = targets.get(db, (None, []))
            gen = cp.generation(version) if gen is None else max(
                gen, cp.generation(version))
            targets[db] = (gen, sorted(set(names) | {service}))
    return targets


def commit(conf, rollout):
    """Run the contract migrations of a finished service-rolling-upgrade
    rollout whose data migrations ran, and record it (``committed_at``, an
    event). Old code cannot run on the schema after this; a rollback then
    restores the database from the rollout's backup. Idempotent.

    A release train is committed stage by stage: each of its stages that
    changed a schema.

    :returns: the rollout, as a dict.
    :raises Conflict: not such a rollout, not succeeded, or the data
        migrations did not run. Nothing changes then.
    """
    dbapi = db_api.get_instance()
    found = dbapi.rollout_get(rollout)
    if found.committed_at is not None:
        return found.to_dict()
    if 'stages' in (found.plan or {}):
        return _commit_train(conf, dbapi, found)
    tmpl = templates.parse(found.template_content or '',
                           found.template_name or found.name)
    if 'migrate_data' not in tmpl.task_names:
        raise exception.Conflict(
            reason='rollout %s (template %s) has no schema change to '
                   'commit' % (found.name, tmpl.name))
    if found.state != states.SUCCEEDED:
        raise exception.Conflict(
            reason='rollout %s is %s: only a succeeded rollout is committed'
                   % (found.name, found.state))
    cp = controlplane.fetch(conf)
    release = found.to_release.versions if found.to_release else {}
    targets = _schema_targets(cp, dbapi, found,
                              lambda run: run.target_versions or release)
    for db, (gen, names) in sorted(targets.items()):
        migrated = cp.database(names[0])['migrated']
        if migrated < gen:
            raise exception.Conflict(
                reason='the data migrations of database %s ran only to '
                       'generation %d, not %d: run the rollout again'
                       % (db, migrated, gen))
    for db, (gen, names) in sorted(targets.items()):
        if cp.database(names[0])['contracted'] < gen:
            cp.migrate(db, 'contract', gen)
        dbapi.event_add('contracted database %s to generation %d (rollout '
                        'commit)' % (db, gen), rollout=found.uuid)
    return dbapi.rollout_update(found.uuid, {
        'committed_at': timeutils.utcnow()}).to_dict()


def _commit_train(conf, dbapi, found):
    """See :func:`commit`: a release train's stages that changed a schema,
    each committed."""
    if found.state != states.SUCCEEDED:
        raise exception.Conflict(
            reason='release train %s is %s: only a succeeded one is '
                   'committed' % (found.name, found.state))
    for stage in _stages(dbapi, found):
        tmpl = templates.parse(stage.template_content or '',
                               stage.template_name)
        if 'migrate_data' in tmpl.task_names:
            commit(conf, stage.uuid)
    return dbapi.rollout_update(found.uuid, {
        'committed_at': timeutils.utcnow()}).to_dict()


def commit_due(conf, now=None):
    """Commit (:func:`commit`) every succeeded rollout whose policy's
    ``commit_after_seconds`` have passed since it finished; what the
    process running schedules calls. Yields the names committed; a rollout
    that cannot be committed is logged and left alone."""
    dbapi = db_api.get_instance()
    now = now or timeutils.utcnow()
    for found in dbapi.rollout_list(state=states.SUCCEEDED):
        soak = (found.policy or {}).get('commit_after_seconds')
        if soak is None or found.committed_at is not None or (
                found.finished_at is None or found.finished_at +
                datetime.timedelta(seconds=soak) > now):
            continue
        try:
            commit(conf, found.uuid)
        except exception.UpgraderException as e:
            LOG.error('Rollout %s: soak time over, but not committed: %s',
                      found.name, e)
            continue
        yield found.name


def rollback_restores(conf, rollout, service=None):
    """The database restores a rollback of ``rollout`` needs: none before
    its contract; after it, one per database the old code cannot use.

    :returns: [{'database', 'backup', 'taken_at' (UTC ISO), 'writes_lost'
        (written since the backup, as the driver counts them now),
        'api_stays_up' (the backup's schema serves the running code too)}]
    :raises Conflict: a restore is needed and the rollout has no backup.
    """
    dbapi = db_api.get_instance()
    found = dbapi.rollout_get(rollout)
    if 'stages' in (found.plan or {}):
        # A release train's: those of its stages, going back last first;
        # a database restored once, from the latest stage's backup (the
        # earlier stages then find it usable).
        restores = {}
        for stage in reversed(_stages(dbapi, found)):
            for restore in rollback_restores(conf, stage.uuid, service):
                restores.setdefault(restore['database'], restore)
        return list(restores.values())
    if found.committed_at is None:
        return []
    cp = controlplane.fetch(conf)
    fact = keys.PREVIOUS_SERVICE_VERSIONS

    def previous(run):
        return {s: v for s, v in ((run.facts or {}).get(fact) or {}).items()
                if service is None or s == service}

    backups = {}
    for run in dbapi.host_run_list(found.uuid):
        backups.update((run.facts or {}).get(keys.SERVICE_BACKUPS) or {})
    release = found.to_release.versions if found.to_release else {}
    new = _schema_targets(cp, dbapi, found,
                          lambda run: run.target_versions or release)
    restores = []
    for db, (_, names) in sorted(_schema_targets(
            cp, dbapi, found, previous).items()):
        # The lowest generation the old code needs.
        old_gen = min(cp.generation(v) for run in dbapi.host_run_list(
            found.uuid) for s, v in previous(run).items() if s in names)
        now = cp.database(names[0])
        if now['contracted'] <= old_gen:
            continue
        if db not in backups:
            raise exception.Conflict(
                reason='rollout %s contracted database %s and took no '
                       'backup of it: it cannot be rolled back'
                       % (found.name, db))
        [backup] = [b for b in cp.backups(db) if b['id'] == backups[db]]
        running = new.get(db, (now['expanded'], ()))[0]
        restores.append({
            'database': db, 'backup': backup['id'],
            'taken_at': datetime.datetime.fromtimestamp(
                backup['at'], datetime.timezone.utc).isoformat(),
            'writes_lost': now['writes'] - backup['writes'],
            'api_stays_up': (backup['contracted'] <= old_gen and
                             backup['contracted'] <= running
                             <= backup['expanded'])})
    return restores


def _restore(conf, dbapi, original, back, restores):
    cp = controlplane.fetch(conf)
    for r in restores:
        done = cp.restore(r['database'], r['backup'])
        message = ('restored database %s from backup %s taken at %s: %d '
                   'write(s) lost' % (r['database'], r['backup'],
                                      r['taken_at'], done['writes_lost']))
        LOG.warning('Rollback %s: %s', back.name, message)
        for uuid in (original.uuid, back.uuid):
            dbapi.event_add(message, rollout=uuid, level='warning')
