"""rq (python-rq), unmodified, against the server at argv[1] (a redis://
URL): jobs enqueued on a queue, then a burst worker (`rq worker --burst`,
a child process) runs them and quits when the queue is empty. Results are
read back as rq keeps them, one Redis stream per job (`rq:results:<id>`,
XADD by the worker; `latest_result(timeout=...)` is XREAD BLOCK, the rest
XREVRANGE): a job's return value, a failing job's traceback and its place
in the FailedJobRegistry, a job that depends on another (deferred until
its parent finished, then run after it), a dependent of the failed job
(still deferred), a retried job, twenty jobs enqueued at once.

Prints one line per observation and `ok` at the end; any broken
expectation exits non-zero with a message saying what was seen. The
worker's log goes to stderr.
"""

import os
import subprocess
import sys
import threading
import time
import warnings

import redis
from rq import Queue, Retry, Worker
from rq.job import JobStatus
from rq.registry import DeferredJobRegistry, FailedJobRegistry, StartedJobRegistry
from rq.results import Result
from rq.version import VERSION

from rq_tasks import add, fail, flaky, record

url = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
# How long the blocking result read waits, and the worker may take.
RESULT_TIMEOUT_S = 30
WORKER_TIMEOUT_S = 90


def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")


version = tuple(int(p) for p in VERSION.split(".")[:2])
check(version >= (1, 12), f"rq {VERSION} keeps results in the job hash; 1.12+ keeps them in streams")
print(f"rq {VERSION}, redis-py {redis.__version__}")

# The socket timeout is past the blocking read's.
conn = redis.Redis.from_url(url, socket_timeout=RESULT_TIMEOUT_S + 30)
check(conn.ping(), "PING")

# Names of this run's own, so that runs against one server do not meet.
tag = f"{os.getpid()}-{time.time_ns() // 1_000_000}"
queue = Queue(f"libtest-{tag}", connection=conn)
order_key = f"libtest:rq:{tag}:order"
flaky_key = f"libtest:rq:{tag}:flaky"
worker_name = f"libtest-rq-{tag}"

# Enqueue everything first: the burst worker runs what is there and quits.
add_job = queue.enqueue(add, 2, 3)
fail_job = queue.enqueue(fail, "boom")
after_fail = queue.enqueue(add, 1, 1, depends_on=fail_job)
parent = queue.enqueue(record, order_key, "parent")
child = queue.enqueue(record, order_key, "child", depends_on=parent)
flaky_job = queue.enqueue(flaky, flaky_key, retry=Retry(max=2))
many = queue.enqueue_many(
    [Queue.prepare_data(add, (i, 1)) for i in range(20)]
)

check(child.get_status() == JobStatus.DEFERRED, f"the dependent job is {child.get_status()}")
check(after_fail.get_status() == JobStatus.DEFERRED, f"the failed job's dependent is {after_fail.get_status()}")
deferred = set(DeferredJobRegistry(queue=queue).get_job_ids())
check(deferred == {child.id, after_fail.id}, f"DeferredJobRegistry holds {deferred}")
queued = queue.count
check(queued == 24, f"{queued} jobs queued, wanted 24 (2 deferred apart)")
check(add_job.get_status() == JobStatus.QUEUED, f"add job is {add_job.get_status()}")
check(add_job.latest_result() is None, "a result before any worker ran")
print(f"enqueued: {queued} jobs queued, 2 deferred behind their dependencies")

# The burst worker, in its own process (it forks a work horse per job).
worker = subprocess.Popen(
    [
        sys.executable, "-m", "rq.cli", "worker",
        "--burst",
        "--url", url,
        "--path", HERE,
        "--name", worker_name,
        queue.name,
    ],
    cwd=HERE,
    stdin=subprocess.DEVNULL,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
)
worker_lines = []


def pump():
    for line in worker.stdout:
        worker_lines.append(line.rstrip("\n"))
        sys.stderr.write(f"[rq worker] {line}")


reader = threading.Thread(target=pump, daemon=True)
reader.start()

try:
    # XREAD BLOCK on the job's result stream, woken by the worker's XADD.
    started = time.monotonic()
    result = add_job.latest_result(timeout=RESULT_TIMEOUT_S)
    check(result is not None, f"no result for add(2, 3) within {RESULT_TIMEOUT_S}s")
    check(result.type == Result.Type.SUCCESSFUL, f"add(2, 3) result type {result.type}")
    check(result.return_value == 5, f"add(2, 3) returned {result.return_value!r}")
    check(result.worker_name == worker_name, f"add(2, 3) ran on {result.worker_name!r}")
    print(
        f"add(2, 3): latest_result(timeout) = {result.return_value} "
        f"({time.monotonic() - started:.2f}s, worker {'libtest-rq' if result.worker_name == worker_name else '?'})"
    )

    try:
        code = worker.wait(timeout=WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        sys.exit(f"FAILED: the burst worker still ran after {WORKER_TIMEOUT_S}s")
finally:
    if worker.poll() is None:
        worker.kill()
        worker.wait()
reader.join(timeout=10)
check(code == 0, f"the burst worker exited with {code}")
print("burst worker: ran the queue empty and exited 0")

key = Result.get_key(add_job.id)
kind = conn.type(key)
check(kind == b"stream", f"{key} is a {kind!r}, not a stream")
entries = conn.xlen(key)
check(entries == 1, f"{key} has {entries} entries")
check(add_job.get_status(refresh=True) == JobStatus.FINISHED, f"add job is {add_job.get_status()}")
check(add_job.return_value() == 5, f"add job return_value() = {add_job.return_value()!r}")
print(f"results are streams: rq:results:<id> is a stream of {entries}, return_value() = 5")

# The failure.
status = fail_job.get_status(refresh=True)
check(status == JobStatus.FAILED, f"the failing job is {status}")
result = fail_job.latest_result()
check(result is not None and result.type == Result.Type.FAILED, f"the failing job's result: {result}")
check("ValueError: boom" in (result.exc_string or ""), f"exc_string: {result.exc_string!r}")
check(fail_job.return_value() is None, "a failed job has a return value")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # rq 3 prefers latest_result()
    exc_info = fail_job.exc_info
check("ValueError: boom" in (exc_info or ""), f"exc_info: {exc_info!r}")
failed = FailedJobRegistry(queue=queue).get_job_ids()
check(failed == [fail_job.id], f"FailedJobRegistry holds {failed}")
print("a failing job: failed, exc_string has ValueError: boom, in the FailedJobRegistry")

# The dependency ran after its parent.
check(parent.return_value(refresh=True) == ["parent"], f"parent returned {parent.return_value()!r}")
value = child.return_value(refresh=True)
check(child.get_status(refresh=True) == JobStatus.FINISHED, f"the dependent job is {child.get_status()}")
check(value == ["parent", "child"], f"the dependent job saw {value!r}")
parent.refresh()
child.refresh()
check(
    parent.ended_at is not None and child.started_at is not None and parent.ended_at <= child.started_at,
    f"parent ended {parent.ended_at}, child started {child.started_at}",
)
print(f"depends_on: the dependent ran after its parent: {value}")

status = after_fail.get_status(refresh=True)
check(status == JobStatus.DEFERRED, f"the failed job's dependent is {status}")
check(after_fail.latest_result() is None, "the failed job's dependent has a result")
deferred = DeferredJobRegistry(queue=queue).get_job_ids()
check(deferred == [after_fail.id], f"DeferredJobRegistry holds {deferred}")
print("a dependent of the failed job stays deferred")

# The retry.
value = flaky_job.return_value(refresh=True)
check(value == 2, f"the retried job returned {value!r}, wanted attempt 2")
types = [r.type for r in flaky_job.results()]
check(types[0] == Result.Type.SUCCESSFUL and len(types) >= 1, f"the retried job's results: {types}")
print(f"Retry(max=2): succeeded on attempt {value}")

values = [j.return_value() for j in many]
check(values == [i + 1 for i in range(20)], f"20 jobs gave {values}")
print("enqueue_many: 20 jobs, all results back")

# Nothing left: the queue is empty, nothing started, the worker is gone.
check(queue.count == 0, f"{queue.count} jobs still queued")
started = StartedJobRegistry(queue=queue).get_job_ids()
check(started == [], f"StartedJobRegistry holds {started}")
workers = [w.name for w in Worker.all(queue=queue)]
check(workers == [], f"workers still registered: {workers}")
job_ok = sum("Job OK" in line for line in worker_lines)
check(job_ok == 24, f"the worker logged {job_ok} `Job OK`, wanted 24")
print(f"the worker logged {job_ok} jobs OK and unregistered")
print("ok")
