"""The functions rq_check.py enqueues and the rq worker imports (by their
dotted names, `rq_tasks.add`): each gets its connection from the job it
runs in, so nothing here connects at import.
"""

from rq import get_current_job


def _redis():
    return get_current_job().connection


def add(x, y):
    return x + y


def fail(message):
    raise ValueError(message)


def record(key, value):
    """Appends `value` to the list `key`; returns the list as it is then."""
    client = _redis()
    client.rpush(key, value)
    return [v.decode() for v in client.lrange(key, 0, -1)]


def flaky(key):
    """Fails on its first attempt, succeeds on the retry; returns the attempt."""
    attempt = _redis().incr(key)
    if attempt == 1:
        raise RuntimeError("the first attempt fails")
    return attempt
