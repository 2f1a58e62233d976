"""Celery with the Redis broker and result backend, unmodified: sends tasks
to the worker that is already running against $LIBTEST_REDIS_URL and
reads their results back (a single task, a failing task, a group, a chain,
a chord, a countdown, and the worker's answer to a broadcast ping).

Prints one line per observation and `ok` at the end; any broken
expectation exits non-zero with a message saying what was seen.
"""

import sys
import time

from celery import chain, chord, group

from celery_app import add, app, fail, who, xsum

TIMEOUT = 30


def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")


started = time.monotonic()
result = add.delay(2, 3)
value = result.get(timeout=TIMEOUT)
check(value == 5, f"add(2, 3) gave {value!r}")
check(result.successful() and result.state == "SUCCESS", f"state {result.state}")
print(f"add.delay(2, 3).get() = {value} ({time.monotonic() - started:.2f}s)")

host = who.delay().get(timeout=TIMEOUT)
check(host.startswith("libtest@"), f"the task ran on {host!r}")
print(f"ran on {host.split('@')[0]}@...")

result = fail.delay("boom")
try:
    result.get(timeout=TIMEOUT)
except ValueError as e:
    check(str(e) == "boom", f"the task's exception came back as {e!r}")
    check(result.state == "FAILURE", f"a failed task's state is {result.state}")
    print(f"a failing task: ValueError({e}) re-raised by get(), state {result.state}")
else:
    sys.exit("FAILED: a failing task's get() did not raise")

values = group(add.s(i, i) for i in range(10))().get(timeout=TIMEOUT)
check(values == [2 * i for i in range(10)], f"group gave {values}")
print(f"group of 10: {values}")

value = chain(add.s(1, 2), add.s(10), add.s(100))().get(timeout=TIMEOUT)
check(value == 113, f"chain gave {value}")
print(f"chain add(1,2) | add(10) | add(100) = {value}")

value = chord(add.s(i, i) for i in range(5))(xsum.s()).get(timeout=TIMEOUT)
check(value == 20, f"chord gave {value}")
print(f"chord of 5 adds into xsum = {value}")

sent = time.monotonic()
value = add.apply_async((20, 22), countdown=1).get(timeout=TIMEOUT)
waited = time.monotonic() - sent
check(value == 42, f"countdown task gave {value}")
check(waited >= 0.9, f"a countdown=1 task finished after {waited:.2f}s")
print(f"countdown=1: {value} after {waited:.2f}s")

replies = app.control.ping(timeout=10, limit=1)
check(any(next(iter(r)).startswith("libtest@") for r in replies), f"ping replies {replies}")
print(f"control.ping: {len(replies)} worker(s) answered")
print("ok")
