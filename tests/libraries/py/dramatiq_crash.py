"""A Dramatiq worker killed (SIGKILL) while it holds a message: another
worker requeues the message once the dead one's heartbeat is older than
$LIBTEST_DRAMATIQ_HEARTBEAT_MS (the maintenance branch of RedisBroker's
dispatch script) and runs it.

`send`: sends `hold`, waits until a worker has started it, prints the
encoded message. (The test then kills that worker and starts another.)
`collect MESSAGE`: waits for the message's result: the second attempt.

Prints one line per observation and `ok` at the end; any broken
expectation exits non-zero with a message saying what was seen.
"""

import sys
import time

from dramatiq import Message

from dramatiq_app import broker, client, hold

KEY = "libtest:hold"


def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")


if sys.argv[1] == "send":
    message = hold.send(KEY)
    started = client.blpop(KEY + ":started", timeout=30)
    check(started is not None, "no worker started the message within 30 s")
    check(started[1] == b"1", f"the first start was attempt {started[1]}")
    acked = [k for k in client.keys("dramatiq:__acks__.*") if client.sismember(k, message.options["redis_message_id"])]
    check(len(acked) == 1, f"the message is in {len(acked)} workers' ack sets, wanted 1")
    print("a worker started the message (attempt 1) and holds it")
    print(message.encode().decode())
    print("ok")
elif sys.argv[1] == "collect":
    message = Message.decode(sys.argv[2].encode())
    started = time.monotonic()
    value = message.get_result(backend=None, block=True, timeout=60_000)
    check(value == 2, f"the requeued message's result is {value}, wanted attempt 2")
    print(f"after the kill another worker ran it: attempt {value} ({time.monotonic() - started:.2f}s)")
    # The result is stored before the message is acknowledged.
    broker.join("default", timeout=30_000)
    left = [k for k in client.keys("dramatiq:__acks__.*") if client.sismember(k, message.options["redis_message_id"])]
    check(not left, f"the message is still in ack sets {left}")
    queued = broker.client.hlen("dramatiq:default.msgs")
    check(queued == 0, f"{queued} messages still stored in the queue")
    print("ok")
else:
    sys.exit(f"unknown phase {sys.argv[1]}")
