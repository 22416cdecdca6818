"""Flows and crash scenarios run against each persistence backend.

Used by the unit tests (SQLite) and the functional ones (PostgreSQL,
MariaDB), so the three databases pass exactly the same checks.
"""

import collections
import contextlib
import threading

from oslo_utils import uuidutils
from sqlalchemy import event
from taskflow.patterns import linear_flow
from taskflow import states
from taskflow import task
from taskflow.types import failure

from upgrader.jobs import persistence

STEPS = ('disable_service', 'evacuate', 'upgrade_packages', 'enable_service')

# run id -> what the tasks did, in order: ('execute'|'revert', task name).
CALLS = collections.defaultdict(list)
_LOCK = threading.Lock()


class Step(task.Task):
    """Records its calls; passes a growing list along the flow."""

    def __init__(self, host, step, run_id, previous, fail=False):
        super().__init__(name='%s.%s' % (host, step),
                         provides='%s.%s.done' % (host, step),
                         requires=[previous] if previous else [])
        self._run_id = run_id
        self._previous = previous
        self._fail = fail

    def execute(self, *args, **kwargs):
        with _LOCK:
            CALLS[self._run_id].append(('execute', self.name))
        if self._fail:
            raise RuntimeError('%s failed on purpose' % self.name)
        done = list(kwargs.get(self._previous) or []) if self._previous \
            else []
        return done + [self.name]

    def revert(self, *args, **kwargs):
        with _LOCK:
            CALLS[self._run_id].append(('revert', self.name))


def host_flow(host, run_id, fail_at=None):
    """The module-level factory a resumed engine rebuilds the flow with."""
    flow = linear_flow.Flow('%s.upgrade' % host)
    previous = None
    for step in STEPS:
        atom = Step(host, step, run_id, previous, fail=(step == fail_at))
        flow.add(atom)
        previous = '%s.%s.done' % (host, step)
    return flow


def task_name(host, step):
    return '%s.%s' % (host, step)


def by_name(flow_detail, name):
    return next(ad for ad in flow_detail if ad.name == name)


def new_flow(backend, host='cmp1', fail_at=None):
    """A saved logbook and flow detail for one host; returns (run id, fd)."""
    run_id = uuidutils.generate_uuid()
    book = persistence.logbook_for(backend, 'rollout-test',
                                   uuidutils.generate_uuid())
    fd = persistence.create_flow_detail(
        backend, book, '%s.upgrade' % host, host_flow,
        factory_args=[host, run_id], factory_kwargs={'fail_at': fail_at})
    return run_id, fd


def atom_states(backend, flow_uuid):
    fd = persistence.get_flow_detail(backend, flow_uuid)
    return fd.state, {ad.name: ad.state for ad in fd}


def crash_after(backend, fd, host, done, running=None):
    """Persist what an engine killed mid-flow leaves behind: ``done`` steps
    SUCCESS (with their results), ``running`` RUNNING; returns the storage.
    """
    engine = persistence.load_engine(backend, fd)
    engine.compile()
    engine.prepare()
    storage = engine.storage
    # In an engine's order: the flow runs, then its tasks.
    storage.set_flow_state(states.RUNNING)
    result = []
    for step in done:
        name = task_name(host, step)
        result = result + [name]
        storage.save(name, list(result), states.SUCCESS)
    if running:
        storage.set_atom_state(task_name(host, running), states.RUNNING)
    return storage


def check_run_to_success(backend):
    run_id, fd = new_flow(backend)
    persistence.load_engine(backend, fd).run()
    flow_state, atoms = atom_states(backend, fd.uuid)
    assert flow_state == states.SUCCESS
    assert set(atoms.values()) == {states.SUCCESS}, atoms
    assert CALLS[run_id] == [('execute', task_name('cmp1', s))
                             for s in STEPS]
    result = by_name(persistence.get_flow_detail(backend, fd.uuid),
                     task_name('cmp1', 'enable_service')).results
    assert result == [task_name('cmp1', s) for s in STEPS]


def check_resume_after_crash(backend_factory):
    """SUCCESS steps are not re-run, the RUNNING one is, results carry on."""
    with contextlib.closing(backend_factory()) as backend:
        run_id, fd = new_flow(backend)
        crash_after(backend, fd, 'cmp1', done=['disable_service'],
                    running='evacuate')
        flow_state, atoms = atom_states(backend, fd.uuid)
        assert flow_state == states.RUNNING
        assert atoms[task_name('cmp1', 'disable_service')] == states.SUCCESS
        assert atoms[task_name('cmp1', 'evacuate')] == states.RUNNING
        assert CALLS[run_id] == []
    # A new process: new backend, the flow detail read back from the database.
    with contextlib.closing(backend_factory()) as backend:
        fd = persistence.get_flow_detail(backend, fd.uuid)
        persistence.load_engine(backend, fd).run()
        flow_state, atoms = atom_states(backend, fd.uuid)
    assert flow_state == states.SUCCESS
    assert set(atoms.values()) == {states.SUCCESS}, atoms
    assert CALLS[run_id] == [('execute', task_name('cmp1', s))
                             for s in STEPS[1:]]


def check_resume_while_reverting(backend_factory):
    """Killed while reverting: the REVERTING step's revert runs again, the
    earlier step is reverted, nothing runs forward, the failure is raised."""
    host = 'cmp1'
    with contextlib.closing(backend_factory()) as backend:
        run_id, fd = new_flow(backend)
        storage = crash_after(backend, fd, host,
                              done=['disable_service', 'evacuate'])
        # What the engine persists when upgrade_packages fails and the
        # revert of evacuate is under way (the flow itself stays RUNNING).
        failed = task_name(host, 'upgrade_packages')
        try:
            raise RuntimeError('%s failed on purpose' % failed)
        except RuntimeError:
            storage.save(failed, failure.Failure(), states.FAILURE)
        for step in STEPS:
            storage.set_atom_intention(task_name(host, step), states.REVERT)
        storage.set_atom_state(failed, states.REVERTED)
        storage.set_atom_state(task_name(host, 'evacuate'), states.REVERTING)
    with contextlib.closing(backend_factory()) as backend:
        fd = persistence.get_flow_detail(backend, fd.uuid)
        _, atoms = atom_states(backend, fd.uuid)
        assert atoms[task_name(host, 'evacuate')] == states.REVERTING
        try:
            persistence.load_engine(backend, fd).run()
        except Exception as err:
            assert 'failed on purpose' in str(err)
        else:
            raise AssertionError('the persisted failure was not raised')
        flow_state, atoms = atom_states(backend, fd.uuid)
    assert flow_state == states.REVERTED, (flow_state, atoms)
    assert CALLS[run_id] == [('revert', task_name(host, 'evacuate')),
                             ('revert', task_name(host, 'disable_service'))]


def check_failure_reverts(backend):
    run_id, fd = new_flow(backend, fail_at='upgrade_packages')
    engine = persistence.load_engine(backend, fd)
    try:
        engine.run()
    except RuntimeError:
        pass
    else:
        raise AssertionError('the failing step did not fail the flow')
    flow_state, atoms = atom_states(backend, fd.uuid)
    assert flow_state == states.REVERTED
    assert set(atoms.values()) == {states.REVERTED, states.PENDING}, atoms
    stored = persistence.get_flow_detail(backend, fd.uuid)
    failed = by_name(stored, task_name('cmp1', 'upgrade_packages'))
    # The failure is kept (serialised) for the operator to read.
    assert failed.failure is not None
    assert 'failed on purpose' in failed.failure.exception_str
    assert CALLS[run_id][-3:] == [
        ('revert', task_name('cmp1', 'upgrade_packages')),
        ('revert', task_name('cmp1', 'evacuate')),
        ('revert', task_name('cmp1', 'disable_service'))]


def check_concurrent_engines(backend, threads=4, flows=3):
    """Host flows on a thread pool share one backend without losing writes."""
    errors = []
    flow_ids = []

    def worker(n):
        try:
            for i in range(flows):
                _run_id, fd = new_flow(backend, host='cmp%d-%d' % (n, i))
                flow_ids.append(fd.uuid)
                persistence.load_engine(backend, fd).run()
        except Exception as err:  # reported below, with the others
            errors.append(err)

    workers = [threading.Thread(target=worker, args=(n,))
               for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert not errors, errors
    assert len(flow_ids) == threads * flows
    for flow_uuid in flow_ids:
        flow_state, atoms = atom_states(backend, flow_uuid)
        assert flow_state == states.SUCCESS
        assert set(atoms.values()) == {states.SUCCESS}


def check_logbook_read_at_once(backend, flows=3):
    """A whole logbook (a rollout's: one flow per host) is read with one
    query for its flows and one for all their atoms, whatever its size, and
    holds exactly what reading each flow alone gives."""
    book = persistence.logbook_for(backend, 'rollout-test',
                                   uuidutils.generate_uuid())
    fds = []
    for i in range(flows):
        fd = persistence.create_flow_detail(
            backend, book, 'cmp%d.upgrade' % i, host_flow,
            factory_args=['cmp%d' % i, uuidutils.generate_uuid()])
        persistence.load_engine(backend, fd).run()
        fds.append(fd)
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(backend.engine, 'before_cursor_execute', record)
    try:
        with contextlib.closing(backend.get_connection()) as conn:
            read = conn.get_logbook(book.uuid)
    finally:
        event.remove(backend.engine, 'before_cursor_execute', record)
    assert len([s for s in statements if s.lstrip().startswith('SELECT')]) \
        == 3, statements
    assert sorted(fd.uuid for fd in read) == sorted(fd.uuid for fd in fds)
    for fd in fds:
        alone = persistence.get_flow_detail(backend, fd.uuid)
        assert ({ad.uuid: ad.to_dict() for ad in read.find(fd.uuid)}
                == {ad.uuid: ad.to_dict() for ad in alone})


def check_progress_written_with_the_flow(backend):
    """A task's progress marks cost no transaction of their own, and the
    stored atoms end exactly as the engine holds them (progress 1 too)."""
    _run_id, fd = new_flow(backend)
    engine = persistence.load_engine(backend, fd)
    commits = []
    listener = lambda conn: commits.append(1)      # noqa: E731
    event.listen(backend.engine, 'commit', listener)
    try:
        engine.run()
    finally:
        event.remove(backend.engine, 'commit', listener)
    # Two per task (running, its result), the flow's atoms created and its
    # RUNNING going with the first; then the flow's success.
    assert len(commits) == 2 * len(STEPS) + 1, len(commits)
    stored = {ad.uuid: ad.to_dict()
              for ad in persistence.get_flow_detail(backend, fd.uuid)}
    held = {ad.uuid: ad.to_dict() for ad in engine.storage._flowdetail}
    assert stored == held
    assert {ad['meta'].get('progress') for ad in stored.values()} == {1.0}


def check_reset_written_at_once(backend_factory):
    """A flow reset (retry-host) without running is PENDING in the
    database when the process is done: only writes an engine's next one
    carries are held back."""
    with contextlib.closing(backend_factory()) as backend:
        _run_id, fd = new_flow(backend)
        persistence.load_engine(backend, fd).run()
    with contextlib.closing(backend_factory()) as backend:
        fd = persistence.get_flow_detail(backend, fd.uuid)
        engine = persistence.load_engine(backend, fd)
        engine.compile()
        engine.prepare()
        engine.reset()
    with contextlib.closing(backend_factory()) as backend:
        flow_state, atoms = atom_states(backend, fd.uuid)
    assert flow_state == states.PENDING
    assert set(atoms.values()) == {states.PENDING}, atoms
