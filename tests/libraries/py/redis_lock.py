"""redis-py's Lock (redis.lock.Lock), unmodified, against the server at
argv[1] (a redis:// URL).

Prints one line per observation and `ok` at the end; any broken
expectation exits non-zero with a message saying what was seen.
"""

import sys
import threading
import time

import redis
from redis.exceptions import LockError, LockNotOwnedError

url = sys.argv[1]
r = redis.Redis.from_url(url, socket_timeout=10)


def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")


def pttl(name):
    return r.pttl(name)


# Acquire, and a second acquirer kept out.
lock = r.lock("libtest:lock", timeout=5)
check(lock.acquire(), "acquire of a free lock returned False")
check(lock.locked() and lock.owned(), "acquired lock is not locked() and owned()")
ttl = pttl("libtest:lock")
check(4000 < ttl <= 5000, f"lock key PTTL {ttl}, wanted (4000, 5000]")
print(f"acquired: pttl {ttl}")

other = r.lock("libtest:lock", timeout=5)
check(not other.acquire(blocking=False), "a second non-blocking acquire succeeded")
check(not other.owned(), "the second lock object thinks it owns the lock")
print("non-blocking acquire of a held lock: False")

# (redis-py polls every `sleep` seconds and gives up when the next poll
# would come after the timeout.)
started = time.monotonic()
got = other.acquire(blocking_timeout=0.3, sleep=0.02)
waited = time.monotonic() - started
check(not got, "a blocking acquire with timeout got a held lock")
check(0.25 <= waited < 5, f"blocking acquire gave up after {waited:.3f}s, wanted about 0.3s")
print(f"blocking acquire of a held lock timed out after {waited:.2f}s")

# extend: adds to the remaining time; replace_ttl sets it.
check(lock.extend(10), "extend returned False")
ttl = pttl("libtest:lock")
check(13000 < ttl <= 15000, f"after extend(10) PTTL {ttl}, wanted (13000, 15000]")
print(f"extend(10): pttl {ttl}")
check(lock.extend(2, replace_ttl=True), "extend(replace_ttl=True) returned False")
ttl = pttl("libtest:lock")
check(1000 < ttl <= 2000, f"after extend(2, replace_ttl) PTTL {ttl}, wanted (1000, 2000]")
print(f"extend(2, replace_ttl=True): pttl {ttl}")

# reacquire: the TTL back to the lock's timeout.
check(lock.reacquire(), "reacquire returned False")
ttl = pttl("libtest:lock")
check(4000 < ttl <= 5000, f"after reacquire PTTL {ttl}, wanted (4000, 5000]")
print(f"reacquire: pttl {ttl}")

# Someone else's token: release, extend and reacquire all refused.
intruder = r.lock("libtest:lock", timeout=5)
for name, call in [
    ("release", intruder.release),
    ("extend", lambda: intruder.extend(5)),
    ("reacquire", intruder.reacquire),
]:
    intruder.local.token = b"not-the-owner"  # release() clears it
    try:
        call()
    except LockNotOwnedError as e:
        print(f"{name} with the wrong token: LockNotOwnedError ({e})")
    else:
        sys.exit(f"FAILED: {name} with the wrong token did not raise LockNotOwnedError")
check(lock.owned(), "the owner lost the lock to a wrong-token call")

# release, then the key is gone and a second release is refused.
lock.release()
check(r.exists("libtest:lock") == 0, "the lock key survived release")
check(not lock.locked(), "locked() after release")
try:
    lock.release()
except LockError:
    print("release: key gone; releasing again raises LockError")
else:
    sys.exit("FAILED: releasing an unlocked lock did not raise")

# A blocking acquire gets the lock once its holder releases it.
# (thread_local=False: the token is set here and used by another thread.)
holder = r.lock("libtest:handoff", timeout=10, thread_local=False)
check(holder.acquire(), "acquire of the hand-off lock")


def release_soon():
    time.sleep(0.2)
    holder.release()


t = threading.Thread(target=release_soon)
t.start()
waiter = r.lock("libtest:handoff", timeout=10, sleep=0.01)
started = time.monotonic()
check(waiter.acquire(blocking_timeout=10), "blocking acquire did not get a released lock")
waited = time.monotonic() - started
t.join()
check(waited >= 0.15, f"blocking acquire got a held lock after {waited:.3f}s")
waiter.release()
print(f"blocking acquire got the lock when its holder released it ({waited:.2f}s)")

# A lock whose holder died: its timeout frees it; the late release is
# refused.
dead = r.lock("libtest:expiring", timeout=0.3)
check(dead.acquire(), "acquire of the expiring lock")
heir = r.lock("libtest:expiring", timeout=5, sleep=0.01)
started = time.monotonic()
check(heir.acquire(blocking_timeout=10), "the expired lock was never free again")
waited = time.monotonic() - started
check(0.15 <= waited < 5, f"expired lock free after {waited:.3f}s, wanted about 0.3s")
try:
    dead.release()
except LockNotOwnedError:
    print(f"an expired lock is taken by another after {waited:.2f}s; its old holder's release raises LockNotOwnedError")
else:
    sys.exit("FAILED: releasing an expired, re-taken lock did not raise")
heir.release()

# Contention: threads each enter the critical section many times; inside
# it they do an unprotected read-modify-write on a key and count how many
# are inside at once.
THREADS, ROUNDS = 4, 50
r.set("libtest:counter", 0)
inside = 0
most_inside = 0
guard = threading.Lock()
errors = []


def worker():
    global inside, most_inside
    try:
        client = redis.Redis.from_url(url, socket_timeout=10)
        for _ in range(ROUNDS):
            with client.lock("libtest:cs", timeout=10, sleep=0.002, blocking_timeout=30):
                with guard:
                    inside += 1
                    most_inside = max(most_inside, inside)
                value = int(client.get("libtest:counter"))
                time.sleep(0.001)
                client.set("libtest:counter", value + 1)
                with guard:
                    inside -= 1
    except Exception as e:  # noqa: BLE001 - reported below
        errors.append(repr(e))


started = time.monotonic()
threads = [threading.Thread(target=worker) for _ in range(THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check(not errors, f"contending threads failed: {errors}")
final = int(r.get("libtest:counter"))
check(most_inside == 1, f"{most_inside} threads were inside the critical section at once")
check(final == THREADS * ROUNDS, f"counter {final}, wanted {THREADS * ROUNDS}: an update was lost")
check(r.exists("libtest:cs") == 0, "the contended lock key survived the last release")
print(
    f"contention: {THREADS} threads x {ROUNDS} rounds, at most {most_inside} inside, "
    f"counter {final} ({time.monotonic() - started:.2f}s)"
)
print("ok")
