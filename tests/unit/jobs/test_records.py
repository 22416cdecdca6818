"""The step listener: one write of our tables per step of a host flow."""

from taskflow import engines
from taskflow.patterns import linear_flow
from taskflow import task

from upgrader.common import events
from upgrader.jobs import records


class FakeDbApi:
    """Keeps the host_run_record calls: (values, [(message, step)])."""

    def __init__(self):
        self.writes = []

    def host_run_record(self, rollout, host, values=None, events=(),
                        count_fact=None):
        assert (rollout, host) == ('r1', 'h1')
        self.writes.append((values, [(e['message'], e.get('step'))
                                     for e in events]))
        self.times = getattr(self, 'times', []) + [
            e['created_at'] for e in events if 'created_at' in e]


class Step(task.Task):
    def execute(self):
        if self.name == 'h1.fails':
            raise RuntimeError('on purpose')


def run(*steps):
    dbapi = FakeDbApi()
    recorder = records.DbRecorder(dbapi, notifier=object())
    flow = linear_flow.Flow('h1')
    flow.add(*[Step('h1.%s' % s) for s in steps])
    engine = engines.load(flow)
    with records.StepListener(engine, recorder, 'r1', 'h1'):
        try:
            engine.run()
        except RuntimeError:
            pass
    return dbapi


def test_a_step_is_one_write_its_success_goes_with_the_next():
    dbapi = run('a', 'b')
    assert dbapi.writes == [
        ({'step': 'a'}, [(events.STEP_STARTED, 'a')]),
        ({'step': 'b'}, [(events.STEP_DONE, 'a'), (events.STEP_STARTED, 'b')]),
        (None, [(events.STEP_DONE, 'b')]),   # when the flow ended
    ]
    assert len(dbapi.times) == 4 and dbapi.times == sorted(dbapi.times)


def test_a_lifecycle_step_starts_with_the_hosts_next_write():
    # Their tasks write the host's state (here, the next step does).
    dbapi = run('start', 'a', 'done')
    assert dbapi.writes == [
        ({'step': 'a'}, [(events.STEP_STARTED, 'start'),
                         (events.STEP_DONE, 'start'),
                         (events.STEP_STARTED, 'a')]),
        ({'step': 'done'}, [(events.STEP_DONE, 'a'),
                            (events.STEP_STARTED, 'done'),
                            (events.STEP_DONE, 'done')]),
    ]


def test_a_failure_is_written_at_once():
    dbapi = run('a', 'fails')
    assert dbapi.writes[:2] == [
        ({'step': 'a'}, [(events.STEP_STARTED, 'a')]),
        ({'step': 'fails'}, [(events.STEP_DONE, 'a'),
                             (events.STEP_STARTED, 'fails')])]
    assert dbapi.writes[2][1][0][0].startswith(events.STEP_FAILED)
    # Then both reverted, each at once.
    assert [w[1] for w in dbapi.writes[3:]] == [
        [(events.STEP_REVERTED, 'fails')], [(events.STEP_REVERTED, 'a')]]
