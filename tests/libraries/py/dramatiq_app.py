"""The Dramatiq broker and actors both sides load: the worker (`dramatiq
dramatiq_app`) and dramatiq_client.py. RedisBroker (its Lua dispatch
script), the Results middleware with RedisBackend and GroupCallbacks with
the Redis rate-limiter backend, all on the server at $LIBTEST_REDIS_URL.

maintenance_chance is at its maximum so that every dispatch also runs the
script's maintenance branch (dead workers' messages, expired dead letters),
which by default runs once in a thousand calls.
$LIBTEST_DRAMATIQ_HEARTBEAT_MS shortens the time after which a silent
worker counts as dead and its messages are requeued (dramatiq_crash.py).
"""

import os
import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import GroupCallbacks
from dramatiq.rate_limits.backends import RedisBackend as RateLimiterBackend
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

url = os.environ["LIBTEST_REDIS_URL"]
options = {}
if "LIBTEST_DRAMATIQ_HEARTBEAT_MS" in os.environ:
    options["heartbeat_timeout"] = int(os.environ["LIBTEST_DRAMATIQ_HEARTBEAT_MS"])
broker = RedisBroker(url=url, maintenance_chance=1_000_000, **options)
broker.add_middleware(Results(backend=RedisBackend(url=url)))
broker.add_middleware(GroupCallbacks(RateLimiterBackend(url=url)))
dramatiq.set_broker(broker)

client = redis.Redis.from_url(url)


@dramatiq.actor(store_results=True, max_retries=0)
def add(x, y):
    return x + y


@dramatiq.actor(store_results=True, max_retries=0)
def fail(message):
    raise ValueError(message)


@dramatiq.actor(store_results=True, max_retries=3, min_backoff=50, max_backoff=100)
def flaky(key):
    """Fails on its first attempt, succeeds on the retry; returns the attempt."""
    attempt = client.incr(key)
    if attempt == 1:
        raise RuntimeError("the first attempt fails")
    return attempt


@dramatiq.actor(max_retries=0)
def record(key, value):
    client.rpush(key, value)


@dramatiq.actor(store_results=True, max_retries=0)
def hold(key):
    """Its first attempt says it started and then never finishes (its
    worker is killed meanwhile); the next returns the attempt."""
    attempt = client.incr(key)
    client.rpush(key + ":started", attempt)
    if attempt == 1:
        time.sleep(600)
    return attempt
