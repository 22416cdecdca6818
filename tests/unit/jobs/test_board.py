"""The kazoo client made from [jobboard]: how soon it looks for a server
that came back."""

from upgrader.jobs import board


def test_the_pause_between_attempts_is_a_third_of_the_session(conf_for):
    conf = conf_for(jobboard={'hosts': '127.0.0.1:1', 'session_timeout': '9'})
    retry = board.make_client(conf)._conn_retry
    assert retry.max_delay == 3.0
    assert retry.max_tries == -1        # never gives up

