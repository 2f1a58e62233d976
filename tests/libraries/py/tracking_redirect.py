"""redis-py (RESP2), unmodified: client-side caching the Redis 6 way, a
tracking connection redirecting its invalidations to a connection
subscribed to __redis__:invalidate. Default mode, BCAST with a prefix,
FLUSHALL's null invalidation; the writes are sent to argv[2] (another
instance) when given. Prints one line per check, then "ok"."""

import sys

import redis

# RESP2 throughout (redis-py 8 speaks RESP3 unless told).
url = sys.argv[1]
writer = redis.Redis.from_url(sys.argv[2] if len(sys.argv) > 2 else url, protocol=2)
reader = redis.Redis.from_url(url, protocol=2)

# The invalidations' connection: named, to find its id.
sink = redis.Redis.from_url(url, client_name="respire-invalidations", protocol=2).pubsub()
sink.subscribe("__redis__:invalidate")
first = sink.get_message(timeout=5)
assert first and first["type"] == "subscribe", first
sink_id = next(c["id"] for c in reader.client_list() if c["name"] == "respire-invalidations")
print("sink speaks RESP", next(c["resp"] for c in reader.client_list() if c["id"] == sink_id))

tracker = redis.Redis.from_url(url, single_connection_client=True, protocol=2)


def invalidation():
    while True:
        msg = sink.get_message(timeout=10)
        assert msg is not None, "no invalidation within 10 s"
        if msg["type"] == "message":
            assert msg["channel"] == b"__redis__:invalidate", msg
            return msg["data"]


# Nothing is written before tracking starts: on a database-backed
# instance a write's event can come back after a later read of its key,
# and invalidate it once more (harmless to a cache, but not what this
# script counts).
tracker.client_tracking_on(clientid=int(sink_id))
info = tracker.client_trackinginfo()
print("trackinginfo:", info)
print("read:", tracker.get("rc:k"))
writer.set("rc:k", "1")
print("invalidated by a write elsewhere:", invalidation())
print("read again:", tracker.get("rc:k"))

tracker.client_tracking_off()
tracker.client_tracking_on(clientid=int(sink_id), bcast=True, prefix=["rc:p:"])
writer.set("rc:other", "x")
writer.set("rc:p:1", "x")
print("bcast prefix rc:p:", invalidation())

writer.flushall()
print("flushall:", invalidation())
print("getredir:", tracker.client_getredir() == int(sink_id))
print("ok")
