"""The Celery app both sides load: the worker (`celery -A celery_app worker`)
and celery_client.py. Broker (kombu's Redis transport) and result backend
are the server at $LIBTEST_REDIS_URL."""

import os

from celery import Celery

url = os.environ["LIBTEST_REDIS_URL"]
app = Celery("libtest", broker=url, backend=url)
app.conf.update(
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=600,
    worker_hijack_root_logger=False,
)


@app.task
def add(x, y):
    return x + y


@app.task
def xsum(numbers):
    return sum(numbers)


@app.task
def fail(message):
    raise ValueError(message)


@app.task(bind=True)
def who(self):
    return self.request.hostname
