// node-redis 5's client-side cache, unmodified, against the server at
// argv[2] (a redis:// URL); writes come from argv[3] when given (another
// instance of the same deployment), else from a second connection to
// argv[2]. The cache serves a repeated read; a write elsewhere invalidates
// the key (the next read sees the new value); FLUSHALL empties the cache.
//
// Prints one line per observation and `ok` at the end; any broken
// expectation exits non-zero with a message saying what was seen.

'use strict';

const { createClient, BasicClientSideCache } = require('redis');

const [url, writerUrl] = process.argv.slice(2);
// What the server promises: an invalidation no later than a keyspace
// notification. This bound only keeps a broken run from hanging.
const WITHIN_MS = 10000;

function check(cond, what) {
  if (!cond) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
}

// Resolves when the cache is told to drop `key` (null: everything).
function invalidation(cache, key) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no invalidation of ${key} within ${WITHIN_MS} ms`)),
      WITHIN_MS,
    );
    const seen = (k) => {
      if ((key === null && k === null) || (k !== null && key !== null && k.toString() === key)) {
        clearTimeout(timer);
        cache.off('invalidate', seen);
        resolve();
      }
    };
    cache.on('invalidate', seen);
  });
}

async function main() {
  const cache = new BasicClientSideCache({ ttl: 0, maxEntries: 0 });
  const client = createClient({ url, RESP: 3, clientSideCache: cache });
  client.on('error', (e) => console.error('client error', e.message));
  const writer = createClient({ url: writerUrl || url });
  writer.on('error', (e) => console.error('writer error', e.message));
  await client.connect();
  await writer.connect();

  await writer.set('csc:a', '1');
  const first = await client.get('csc:a');
  const second = await client.get('csc:a');
  const stats = cache.stats();
  console.log(`read twice: ${first} ${second}, ${stats.hitCount} hit, ${stats.missCount} miss`);
  check(first === '1' && second === '1', 'the reads saw the value');
  check(stats.hitCount === 1 && stats.missCount === 1, 'the second read came from the cache');

  const told = invalidation(cache, 'csc:a');
  await writer.set('csc:a', '2');
  await told;
  const third = await client.get('csc:a');
  console.log(`invalidated by a write elsewhere; read again: ${third}`);
  check(third === '2', `the read after the invalidation saw the write (got ${third})`);

  await writer.set('csc:b', 'x');
  check((await client.get('csc:b')) === 'x', 'a second key read');
  check(cache.size() === 2, `two keys cached (size ${cache.size()})`);
  const flushed = invalidation(cache, null);
  await writer.flushAll();
  await flushed;
  console.log(`FLUSHALL elsewhere emptied the cache: size ${cache.size()}`);
  check(cache.size() === 0, 'the cache is empty');
  check((await client.get('csc:a')) === null, 'the key is gone');

  await client.quit();
  await writer.quit();
  console.log('ok');
}

main().catch((e) => {
  console.error(`FAILED: ${e.stack || e}`);
  process.exit(1);
});
