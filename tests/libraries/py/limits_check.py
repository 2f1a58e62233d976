"""`limits` (rate limiting) with its Redis storage, unmodified, against the
server at argv[1] (a redis:// URL): the fixed window, the moving window and
the sliding window counter each let exactly their limit through, alone and
with threads racing, and the moving window frees up when its oldest hit
leaves it.

Prints one line per observation and `ok` at the end; any broken
expectation exits non-zero with a message saying what was seen.
"""

import sys
import threading
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    SlidingWindowCounterRateLimiter,
)

url = sys.argv[1]
storage = storage_from_string(url, socket_timeout=10)


def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")


check(storage.check(), "storage.check() (PING) failed")
print(f"storage: {type(storage).__name__}")

STRATEGIES = [
    ("fixed window", FixedWindowRateLimiter),
    ("moving window", MovingWindowRateLimiter),
    ("sliding window counter", SlidingWindowCounterRateLimiter),
]

# Alone: exactly the limit passes, the next is refused, test() agrees, the
# stats say nothing remains, another identifier is untouched, and clear()
# starts over.
for name, strategy in STRATEGIES:
    limiter = strategy(storage)
    item = parse("5/minute")
    hits = [limiter.hit(item, "alone", name) for _ in range(7)]
    check(hits == [True] * 5 + [False] * 2, f"{name}: 7 hits on 5/minute gave {hits}")
    check(not limiter.test(item, "alone", name), f"{name}: test() True at the limit")
    stats = limiter.get_window_stats(item, "alone", name)
    check(stats.remaining == 0, f"{name}: {stats.remaining} remaining at the limit")
    check(stats.reset_time > time.time(), f"{name}: reset time {stats.reset_time} in the past")
    check(limiter.hit(item, "someone else", name), f"{name}: another identifier was limited")
    limiter.clear(item, "alone", name)
    check(limiter.hit(item, "alone", name), f"{name}: still limited after clear()")
    print(f"{name}: 5/minute lets 5 of 7 through; stats remaining 0; clear() resets")

# cost: a hit may take several at once.
limiter = MovingWindowRateLimiter(storage)
item = parse("5/minute")
costs = [limiter.hit(item, "cost", cost=2) for _ in range(3)]
check(costs == [True, True, False], f"moving window, cost 2 on 5/minute: {costs}")
check(limiter.hit(item, "cost", cost=1), "moving window: the last unit refused")
check(not limiter.hit(item, "cost", cost=1), "moving window: a unit past the limit")
print("moving window: cost=2 twice, third refused, then one unit fits exactly")

# Racing threads: exactly the limit passes.
THREADS, TRIES, LIMIT = 4, 30, 50
for name, strategy in STRATEGIES:
    limiter = strategy(storage)
    item = parse(f"{LIMIT}/minute")
    passed = []
    errors = []

    def hammer():
        try:
            n = sum(limiter.hit(item, "race", name) for _ in range(TRIES))
            passed.append(n)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=hammer) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, f"{name}: racing threads failed: {errors}")
    check(
        sum(passed) == LIMIT,
        f"{name}: {sum(passed)} of {THREADS * TRIES} racing hits passed a limit of {LIMIT}",
    )
    print(f"{name}: {THREADS} threads x {TRIES} hits on {LIMIT}/minute: exactly {sum(passed)} passed")

# The moving window frees a slot when its oldest hit is a second old (and
# not before).
limiter = MovingWindowRateLimiter(storage)
item = parse("3/second")
first = time.time()
check(all(limiter.hit(item, "slide") for _ in range(3)), "moving window: 3/second refused one of 3")
check(not limiter.hit(item, "slide"), "moving window: a 4th hit within the second passed")
deadline = time.monotonic() + 10
while not limiter.test(item, "slide"):
    check(time.monotonic() < deadline, "moving window: no slot free 10 s after the hits")
    time.sleep(0.02)
freed = time.time() - first
check(freed >= 0.9, f"moving window: a slot was free {freed:.3f}s after the first hit")
check(limiter.hit(item, "slide"), "moving window: hit refused although test() said it fits")
print(f"moving window: 3/second full, a slot free again after {freed:.2f}s")

# The fixed window: the counter key expires with the window.
limiter = FixedWindowRateLimiter(storage)
item = parse("2/second")
check(limiter.hit(item, "expire") and limiter.hit(item, "expire"), "fixed window: 2/second refused")
check(not limiter.hit(item, "expire"), "fixed window: a 3rd hit passed")
deadline = time.monotonic() + 10
while not limiter.test(item, "expire"):
    check(time.monotonic() < deadline, "fixed window: still full 10 s later")
    time.sleep(0.02)
check(limiter.hit(item, "expire"), "fixed window: hit refused in a new window")
print("fixed window: 2/second full, open again once its key expired")

# reset(): deletes every key under the storage's prefix (a script with
# KEYS inside).
removed = storage.reset()
check(removed and removed > 0, f"reset() removed {removed} keys")
limiter = FixedWindowRateLimiter(storage)
check(limiter.get_window_stats(parse("5/minute"), "alone", "fixed window").remaining == 5, "reset() left a counter")
print(f"reset(): removed {removed} keys")
print("ok")
