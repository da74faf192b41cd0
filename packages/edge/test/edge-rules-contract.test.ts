/**
 * The platform (JSON Schema at PUT /v1/edge-rules) and the agent (parseRules, before it
 * applies a pulled or cached set) check the same rule language: on random rule sets, valid
 * and not, they accept and refuse exactly the same ones.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { TestApi } from '../../server/test/support/api.ts';
import { parseRules } from '../src/rules/index.ts';

const key = fc.oneof(
  { arbitrary: fc.constantFrom('t', 'temperature', 'a.b', 'x:y', 'k-1'), weight: 8 },
  { arbitrary: fc.constantFrom('', 'a b', 'ü', 'x'.repeat(129)), weight: 1 },
);
const value = fc.oneof(
  { arbitrary: fc.integer({ min: -1000, max: 100_000_000 }), weight: 4 },
  {
    arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
    weight: 4,
  },
  { arbitrary: fc.constantFrom(0, -1, 1.5, 86_400_000, 86_400_001), weight: 2 },
  { arbitrary: fc.oneof(key, fc.array(key, { maxLength: 3 }), fc.constant(null)), weight: 1 },
);
const field = fc.constantFrom(
  'keep',
  'drop',
  'from',
  'to',
  'key',
  'factor',
  'offset',
  'delta',
  'windowMs',
  'aggregate',
  'name',
  'above',
  'below',
  'extra',
);
const rule = fc.record({
  kind: fc.constantFrom('filter', 'rename', 'scale', 'deadband', 'downsample', 'alert', 'nope'),
  fields: fc.dictionary(field, value, { maxKeys: 4 }),
});
/** Mostly well-formed rules (each kind with its own fields), some broken at random. */
const wellFormed = fc.oneof(
  fc.record({ kind: fc.constant('filter'), keep: fc.array(key, { minLength: 1, maxLength: 2 }) }),
  fc.record({ kind: fc.constant('rename'), from: key, to: key }),
  fc.record({ kind: fc.constant('scale'), key, factor: value, offset: value }),
  fc.record({ kind: fc.constant('deadband'), key, delta: value }),
  fc.record({
    kind: fc.constant('downsample'),
    key,
    windowMs: value,
    aggregate: fc.constantFrom('mean', 'last', 'median'),
  }),
  fc.record(
    { kind: fc.constant('alert'), name: key, key, above: value, below: value },
    { requiredKeys: ['kind', 'name', 'key'] },
  ),
);
const rules = fc.array(
  fc.oneof(
    { arbitrary: wellFormed, weight: 6 },
    { arbitrary: rule.map((r) => ({ kind: r.kind, ...r.fields })), weight: 1 },
  ),
  { maxLength: 3 },
);

describe('the edge rule language, platform and agent', () => {
  let api: TestApi;
  let apiKey: string;
  before(async () => {
    api = await TestApi.start('sqlite');
    apiKey = (await api.tenant('contract')).key;
  });
  after(() => api.close());

  it('accept and refuse the same rule sets', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(rules, async (set) => {
        let agent = true;
        try {
          parseRules(set);
        } catch {
          agent = false;
        }
        const reply = await api.call('PUT', '/v1/edge-rules/contract', apiKey, { rules: set });
        assert.equal(
          reply.status === 200,
          agent,
          `${JSON.stringify(set)}: ${JSON.stringify(reply.body)}`,
        );
        if (agent) accepted++;
      }),
      { numRuns: 300 },
    );
    assert.ok(accepted > 20, `only ${accepted} valid sets were tried`);
  });
});
