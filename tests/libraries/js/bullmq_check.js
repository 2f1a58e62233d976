// BullMQ (with ioredis), unmodified, against the server at argv[2] (a
// redis:// URL): a Worker (concurrency 2) and a Queue; results come back
// through QueueEvents (job.waitUntilFinished). One job, a failure, a retry
// with backoff, a delayed job, a bulk add, a flow (a parent and its
// children), and the job counts at the end.
//
// Prints one line per observation and `ok` at the end; any broken
// expectation exits non-zero with a message saying what was seen.

'use strict';

const { Queue, Worker, QueueEvents, FlowProducer } = require('bullmq');

const url = new URL(process.argv[2]);
const connection = {
  host: url.hostname,
  port: Number(url.port),
  maxRetriesPerRequest: null,
};
const TTL = 30000;

function check(cond, what) {
  if (!cond) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
}

async function main() {
  const queue = new Queue('libtest', { connection });
  // Each waiting waitUntilFinished listens for the queue closing.
  queue.setMaxListeners(50);
  const events = new QueueEvents('libtest', { connection });
  const flows = new FlowProducer({ connection });
  const attempts = new Map();
  const worker = new Worker(
    'libtest',
    async (job) => {
      switch (job.name) {
        case 'add':
          return job.data.a + job.data.b;
        case 'fail':
          throw new Error(job.data.message);
        case 'flaky': {
          const n = (attempts.get(job.id) || 0) + 1;
          attempts.set(job.id, n);
          if (n === 1) throw new Error('the first attempt fails');
          return n;
        }
        case 'sum': {
          const children = await job.getChildrenValues();
          return Object.values(children).reduce((a, b) => a + b, 0);
        }
        default:
          throw new Error(`unknown job ${job.name}`);
      }
    },
    { connection, concurrency: 2 },
  );
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);

  let started = Date.now();
  let job = await queue.add('add', { a: 2, b: 3 });
  let value = await job.waitUntilFinished(events, TTL);
  check(value === 5, `add(2, 3) gave ${value}`);
  console.log(`add(2, 3) = ${value} (${((Date.now() - started) / 1000).toFixed(2)}s)`);

  job = await queue.add('fail', { message: 'boom' });
  try {
    await job.waitUntilFinished(events, TTL);
    check(false, 'a failing job finished');
  } catch (e) {
    check(/boom/.test(e.message), `the failure came back as ${e.message}`);
    const state = await job.getState();
    check(state === 'failed', `a failed job's state is ${state}`);
    console.log(`a failing job: ${e.message}, state ${state}`);
  }

  job = await queue.add('flaky', {}, { attempts: 3, backoff: { type: 'fixed', delay: 100 } });
  value = await job.waitUntilFinished(events, TTL);
  check(value === 2, `the retried job succeeded on attempt ${value}, wanted 2`);
  console.log(`a retried job succeeded on attempt ${value}`);

  started = Date.now();
  job = await queue.add('add', { a: 20, b: 22 }, { delay: 500 });
  value = await job.waitUntilFinished(events, TTL);
  const waited = Date.now() - started;
  check(value === 42, `the delayed job gave ${value}`);
  check(waited >= 450, `a job delayed 500 ms finished after ${waited} ms`);
  console.log(`delayed 500 ms: ${value} after ${(waited / 1000).toFixed(2)}s`);

  const jobs = await queue.addBulk(
    Array.from({ length: 20 }, (_, i) => ({ name: 'add', data: { a: i, b: 1 } })),
  );
  const values = await Promise.all(jobs.map((j) => j.waitUntilFinished(events, TTL)));
  check(
    JSON.stringify(values) === JSON.stringify(Array.from({ length: 20 }, (_, i) => i + 1)),
    `bulk gave ${values}`,
  );
  console.log('bulk of 20: all results back');

  const flow = await flows.add({
    name: 'sum',
    queueName: 'libtest',
    children: [1, 2, 3].map((i) => ({ name: 'add', queueName: 'libtest', data: { a: i, b: i } })),
  });
  value = await flow.job.waitUntilFinished(events, TTL);
  check(value === 12, `the flow's parent summed ${value}`);
  console.log(`flow: parent summed its 3 children = ${value}`);

  const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
  check(counts.failed === 1 && counts.waiting === 0 && counts.active === 0, `job counts ${JSON.stringify(counts)}`);
  console.log(`job counts: ${JSON.stringify(counts)}`);

  await worker.close();
  await Promise.all([queue.close(), events.close(), flows.close()]);
  console.log('ok');
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`FAILED: ${e.stack || e}`);
    process.exit(1);
  },
);
