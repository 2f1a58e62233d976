"""Dramatiq with its RedisBroker and the Results middleware, unmodified:
sends messages to the worker already running against $LIBTEST_REDIS_URL
and reads their results back (one message, a failure, a retry, a delayed
message, a group with a completion callback, a pipeline).

Prints one line per observation and `ok` at the end; any broken
expectation exits non-zero with a message saying what was seen.
"""

import sys
import time

from dramatiq import group, pipeline
from dramatiq.results import ResultFailure

from dramatiq_app import add, broker, client, fail, flaky, record

TIMEOUT_MS = 30_000


def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")


started = time.monotonic()
message = add.send(2, 3)
value = message.get_result(block=True, timeout=TIMEOUT_MS)
check(value == 5, f"add(2, 3) gave {value!r}")
print(f"add.send(2, 3) result {value} ({time.monotonic() - started:.2f}s)")

message = fail.send("boom")
try:
    message.get_result(block=True, timeout=TIMEOUT_MS)
except ResultFailure as e:
    check("boom" in str(e) and e.orig_exc_type == "ValueError", f"failure came back as {e!r}")
    print(f"a failing actor: ResultFailure({e.orig_exc_type}: {e.orig_exc_msg})")
else:
    sys.exit("FAILED: a failing actor's result did not raise ResultFailure")
dead = client.zcard("dramatiq:default.XQ")
check(dead == 1, f"{dead} messages in the dead-letter queue, wanted the failed one")
print(f"the failed message is in the dead-letter queue ({dead})")

value = flaky.send("libtest:flaky").get_result(block=True, timeout=TIMEOUT_MS)
check(value == 2, f"the retried actor succeeded on attempt {value}, wanted 2")
print(f"a retried actor succeeded on attempt {value}")

sent = time.monotonic()
message = add.send_with_options(args=(20, 22), delay=500)
value = message.get_result(block=True, timeout=TIMEOUT_MS)
waited = time.monotonic() - sent
check(value == 42, f"delayed add gave {value}")
check(waited >= 0.45, f"a message delayed 500 ms ran after {waited:.2f}s")
print(f"delayed 500 ms: {value} after {waited:.2f}s")

g = group(add.message(i, i) for i in range(10))
g.add_completion_callback(record.message("libtest:group-done", "all ten"))
g.run()
values = list(g.get_results(block=True, timeout=TIMEOUT_MS))
check(values == [2 * i for i in range(10)], f"group gave {values}")
done = client.blpop("libtest:group-done", timeout=30)
check(done is not None and done[1] == b"all ten", f"the group's completion callback: {done}")
print(f"group of 10: {values}; completion callback ran")

p = pipeline([add.message(1, 2), add.message(10), add.message(100)])
p.run()
value = p.get_result(block=True, timeout=TIMEOUT_MS)
check(value == 113, f"pipeline gave {value}")
print(f"pipeline add(1,2) | add(10) | add(100) = {value}")

# Many at once, through both worker threads.
messages = [add.send(i, 1) for i in range(50)]
values = [m.get_result(block=True, timeout=TIMEOUT_MS) for m in messages]
check(values == [i + 1 for i in range(50)], f"50 messages gave {values}")
print("50 messages: all results back")

# A result is stored before its message is acknowledged: wait for the
# queue to drain (join polls the dispatch script's qsize).
broker.join("default", timeout=TIMEOUT_MS)
queued = broker.client.hlen("dramatiq:default.msgs")
check(queued == 0, f"{queued} messages still stored in the queue")
print("queue drained: every message acknowledged")
print("ok")
