/**
 * The internal channel on a real NATS server: signed notices and requests reach their
 * handler and are answered; unsigned, foreign-key, wrong-role and re-addressed ones are
 * dropped unanswered, never reach the handler, and are counted by reason and topic; a token
 * is taken once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { LocalKms, MasterKey } from '@palisade/crypto';
import pino from 'pino';
import { Registry } from 'prom-client';
import { InternalChannel, ServiceTokens } from '../src/internal/index.ts';

const NATS = process.env.PALISADE_TEST_NATS_URL;
/** How long an injected message gets to (wrongly) draw an answer. */
const REFUSED_WAIT_MS = 500;
/** How long a message that is answered may take, on a loaded machine; only bounds waiting. */
const ANSWER_WAIT_MS = 30_000;

describe('internal channel', { skip: NATS === undefined }, () => {
  const master = MasterKey.generate();
  const prefix = `palisadet${randomBytes(5).toString('hex')}`;
  const metrics = new Registry();
  const apiMetrics = new Registry();
  let ncs: NatsConnection[];
  let worker: InternalChannel;
  let api: InternalChannel;
  const channel = (nc: NatsConnection, role: string, registry?: Registry) =>
    new InternalChannel({
      nc,
      prefix,
      tokens: new ServiceTokens(new LocalKms(master), { role, pid: role }, 10_000),
      // A refused reply resolves the request at once; the timeout only bounds an answer.
      requestTimeoutMs: ANSWER_WAIT_MS,
      logger: pino({ level: 'silent' }),
      metrics: registry,
    });
  const refused = async () =>
    (await metrics.getSingleMetric('palisade_internal_refused_total')!.get()).values.map((v) => [
      v.labels.reason,
      v.labels.topic,
      v.value,
    ]);
  /**
   * The refusals, once `count` were counted: the worker counts one when it has checked the
   * message, which may be after the sender stopped waiting for an answer.
   */
  const refusedOnce = async (count: number) => {
    const deadline = Date.now() + ANSWER_WAIT_MS;
    let seen = await refused();
    while (seen.reduce((sum, [, , n]) => sum + Number(n), 0) < count && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      seen = await refused();
    }
    return seen;
  };

  before(async () => {
    ncs = await Promise.all([0, 1, 2].map(() => connect({ servers: NATS! })));
    worker = channel(ncs[0]!, 'worker', metrics);
    api = channel(ncs[1]!, 'api', apiMetrics);
  });
  after(() => Promise.all(ncs.map((nc) => nc.close())));

  it('answers a signed request and hands over a signed notice', async () => {
    const notices: unknown[] = [];
    const stop = [
      worker.subscribe('ledger.seal', [], (payload) => ({ sealed: payload })),
      worker.subscribe('ledger.dirty', [], (payload) => {
        notices.push(payload);
      }),
    ];
    // The server must hold the subscriptions before a request from another connection comes.
    await ncs[0]!.flush();
    assert.deepEqual(await api.request('ledger.seal', [], { tenantId: 't1' }), {
      sealed: { tenantId: 't1' },
    });
    await api.publish('ledger.dirty', [], { tenantIds: ['t1'] });
    await api.request('ledger.seal', [], {}); // the notice was sent before: it has arrived
    assert.deepEqual(notices, [{ tenantIds: ['t1'] }]);
    for (const s of stop) s();
  });

  it('drops what is unsigned, under another key, from a role not allowed or re-addressed', async () => {
    let handled = 0;
    const stop = worker.subscribe('ledger.seal', [], () => {
      handled += 1;
      return {};
    });
    // The server must hold the subscription before the first message is injected from another
    // connection, or that message finds no subscriber and is never counted (seen once in CI).
    await ncs[0]!.flush();
    const raw = ncs[2]!;
    const subject = worker.subject('ledger.seal');
    const payload = Buffer.from('{"tenantId":"t1"}');
    const signedBy = (kms: LocalKms, role: string, on = subject) =>
      new ServiceTokens(kms, { role, pid: 'test' }, 10_000).sign(on, payload);
    const send = async (token: string | undefined, timeout = REFUSED_WAIT_MS) => {
      const h = headers();
      if (token !== undefined) h.set('Palisade-Service', token);
      return raw
        .request(subject, payload, { timeout, headers: h })
        .then(() => 'answered')
        .catch(() => 'no answer');
    };
    assert.equal(await send(undefined), 'no answer');
    assert.equal(
      await send(await signedBy(new LocalKms(MasterKey.generate()), 'api')),
      'no answer',
    );
    assert.equal(await send(await signedBy(new LocalKms(master), 'ingest')), 'no answer');
    const elsewhere = worker.subject('keys.job');
    assert.equal(await send(await signedBy(new LocalKms(master), 'api', elsewhere)), 'no answer');
    assert.equal(handled, 0);
    const once = await signedBy(new LocalKms(master), 'api');
    assert.equal(await send(once, ANSWER_WAIT_MS), 'answered');
    assert.equal(handled, 1);
    assert.equal(await send(once), 'no answer', 'the same token again is a replay');
    assert.equal(handled, 1);
    assert.deepEqual((await refusedOnce(5)).sort(), [
      ['key', 'ledger.seal', 1],
      ['missing', 'ledger.seal', 1],
      ['replay', 'ledger.seal', 1],
      ['role', 'ledger.seal', 1],
      ['subject', 'ledger.seal', 1],
    ]);
    stop();
  });

  it('refuses a reply that is not signed by a process allowed to answer', async () => {
    const raw = ncs[2]!;
    const sub = raw.subscribe(worker.subject('ledger.seal'), {
      callback: (_error, msg) => {
        msg.respond(Buffer.from('{"sealed":true}'));
      },
    });
    await raw.flush();
    assert.equal(await api.request('ledger.seal', [], { tenantId: 't1' }), undefined);
    const counted = await apiMetrics.getSingleMetric('palisade_internal_refused_total')!.get();
    assert.deepEqual(
      counted.values.map((v) => [v.labels.reason, v.labels.topic, v.value]),
      [['missing', 'ledger.seal', 1]],
    );
    sub.unsubscribe();
  });
});
