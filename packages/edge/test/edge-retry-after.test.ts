/**
 * A platform's Retry-After longer than a Node.js timer holds (2^31 - 1 ms, 24.8 days): the
 * node waits that longest timer and asks again, rather than coming back after 1 ms.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Periodic } from '../src/periodic.ts';
import { PlatformRefusedError } from '../src/platform-call.ts';

const TIMER_MAX_MS = 2 ** 31 - 1;

test('a refresh refused with a Retry-After of weeks is not retried within 24.8 days', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  // 40 days.
  const refused = new PlatformRefusedError(429, 'over quota', '3456000');
  let runs = 0;
  const waits: number[] = [];
  const periodic = new Periodic(
    async () => {
      runs++;
      throw refused;
    },
    { intervalMs: 60_000, retryMs: 5_000 },
    (_error, retryInMs) => waits.push(retryInMs),
  );
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  periodic.start();
  await turn();
  assert.equal(runs, 1);
  t.mock.timers.tick(1);
  await turn();
  t.mock.timers.tick(TIMER_MAX_MS - 2);
  await turn();
  assert.equal(runs, 1, 'retried before the Retry-After, or the longest timer, had passed');
  t.mock.timers.tick(1);
  await turn();
  assert.equal(runs, 2);
  assert.deepEqual(waits, [TIMER_MAX_MS, TIMER_MAX_MS]);
  await periodic.stop();
});
