import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseRules, type Rule, RuleEngine, RuleSetError } from '../src/rules/index.ts';

const T0 = 1_700_000_040_000;

/** An engine with one device `d` of type `t` under `rules`. */
function engine(rules: readonly Rule[]): RuleEngine {
  return new RuleEngine({
    revision: 'r1',
    ruleSets: [{ deviceType: 't', rules, updatedAt: new Date(T0).toISOString() }],
    devices: [{ id: 'd', type: 't' }],
  });
}

describe('edge rule parsing', () => {
  test('a valid set parses to itself; an omitted scale offset is 0', () => {
    const rules = [
      { kind: 'filter', keep: ['a', 'b'] },
      { kind: 'rename', from: 'a', to: 'c' },
      { kind: 'scale', key: 'c', factor: 2 },
      { kind: 'deadband', key: 'c', delta: 0 },
      { kind: 'downsample', key: 'b', windowMs: 1000, aggregate: 'max' },
      { kind: 'alert', name: 'high', key: 'c', above: 10 },
    ];
    const parsed = parseRules(rules);
    assert.deepEqual(parsed[2], { kind: 'scale', key: 'c', factor: 2, offset: 0 });
    assert.deepEqual(parsed.slice(3), rules.slice(3));
  });

  test('every refusal names the bad field', () => {
    const cases: [unknown, string][] = [
      [{}, ''],
      [[{ kind: 'nope' }], '/0/kind'],
      [[{ kind: 'filter' }], '/0'],
      [[{ kind: 'filter', keep: ['a'], drop: ['b'] }], '/0'],
      [[{ kind: 'filter', keep: [] }], '/0/keep'],
      [[{ kind: 'rename', from: 'a', to: 'a b' }], '/0/to'],
      [[{ kind: 'scale', key: 'x', factor: Number.NaN }], '/0/factor'],
      [[{ kind: 'deadband', key: 'x', delta: -1 }], '/0/delta'],
      [[{ kind: 'downsample', key: 'x', windowMs: 1.5, aggregate: 'mean' }], '/0/windowMs'],
      [[{ kind: 'downsample', key: 'x', windowMs: 10, aggregate: 'median' }], '/0/aggregate'],
      [[{ kind: 'alert', name: 'a', key: 'x' }], '/0'],
      [[{ kind: 'alert', name: 'a', key: 'x', above: 1, below: 1 }], '/0/below'],
      [[{ kind: 'rename', from: 'a', to: 'b', key: 'c' }], '/0/key'],
      [
        [
          { kind: 'alert', name: 'a', key: 'x', above: 1 },
          { kind: 'alert', name: 'a', key: 'y', above: 1 },
        ],
        '/1/name',
      ],
    ];
    for (const [value, path] of cases)
      assert.throws(
        () => parseRules(value),
        (e: unknown) => e instanceof RuleSetError && e.path === path,
        JSON.stringify(value),
      );
  });
});

describe('edge rule engine', () => {
  test('rename, scale and filter shape the values, in rule order', () => {
    const e = engine([
      { kind: 'rename', from: 't', to: 'temperature' },
      { kind: 'scale', key: 'temperature', factor: 1.8, offset: 32 },
      { kind: 'filter', drop: ['debug'] },
    ]);
    const out = e.process('d', { t: 100, debug: 'x', rh: 40 }, T0);
    assert.deepEqual(out.payload, { ts: T0, values: { temperature: 212, rh: 40 } });
    assert.equal(out.ruled, true);
  });

  test('a device without rules, or a payload of another shape, passes untouched', () => {
    const e = engine([{ kind: 'filter', keep: ['a'] }]);
    const payload = { b: 1 };
    assert.deepEqual(e.process('other', payload, T0), { payload, alerts: [], ruled: false });
    const odd = { ts: 'soon', values: { a: 1 } };
    assert.equal(e.process('d', odd, T0).payload, odd);
  });

  test('a message whose values are all filtered out stores nothing', () => {
    const e = engine([{ kind: 'filter', keep: ['a'] }]);
    assert.equal(e.process('d', { b: 1 }, T0).payload, undefined);
  });

  test('deadband 0 sends on change only; a delta needs a change of at least delta', () => {
    const change = engine([{ kind: 'deadband', key: 'v', delta: 0 }]);
    const sent = [1, 1, 2, 2, 'on', 'on', 'off'].map(
      (v, i) => change.process('d', { ts: T0 + i, values: { v } }, T0).payload,
    );
    assert.deepEqual(
      sent.map((p) => (p as { values: { v: unknown } } | undefined)?.values.v),
      [1, undefined, 2, undefined, 'on', undefined, 'off'],
    );
    const band = engine([{ kind: 'deadband', key: 'v', delta: 0.5 }]);
    const kept = [10, 10.4, 10.5, 10.1, 9.9].map(
      (v) =>
        (band.process('d', { v }, T0).payload as { values: { v: number } } | undefined)?.values.v,
    );
    assert.deepEqual(kept, [10, undefined, 10.5, undefined, 9.9]);
  });

  test('downsample sends one aggregate per window, stamped at its start, when the window ends', () => {
    const e = engine([{ kind: 'downsample', key: 'v', windowMs: 1000, aggregate: 'mean' }]);
    assert.equal(e.process('d', { ts: T0, values: { v: 1 } }, T0).payload, undefined);
    assert.deepEqual(e.process('d', { ts: T0 + 500, values: { v: 3, other: true } }, T0).payload, {
      ts: T0 + 500,
      values: { other: true },
    });
    const next = e.process('d', { ts: T0 + 1000, values: { v: 10 } }, T0);
    assert.deepEqual(next.payload, { ts: T0, values: { v: 2 } });
    assert.deepEqual(e.due(T0 + 1999), []);
    assert.deepEqual(e.due(T0 + 2000), [
      { deviceId: 'd', entries: [{ ts: T0 + 1000, values: { v: 10 } }], alerts: [] },
    ]);
  });

  test('an alert fires once when crossed and clears once when back', () => {
    const e = engine([{ kind: 'alert', name: 'hot', key: 'c', above: 80 }]);
    const events = [70, 81, 90, 79, 60, 85].flatMap(
      (c, i) => e.process('d', { ts: T0 + i, values: { c } }, T0).alerts,
    );
    assert.deepEqual(events, [
      { name: 'hot', key: 'c', value: 81, state: 'firing', ts: T0 + 1, above: 80 },
      { name: 'hot', key: 'c', value: 79, state: 'cleared', ts: T0 + 3, above: 80 },
      { name: 'hot', key: 'c', value: 85, state: 'firing', ts: T0 + 5, above: 80 },
    ]);
  });

  test('a new rule book first hands over what the old rules held open', () => {
    const e = engine([{ kind: 'downsample', key: 'v', windowMs: 60_000, aggregate: 'count' }]);
    e.process('d', { v: 1 }, T0);
    e.process('d', { v: 1 }, T0 + 1);
    const held = e.replace({ revision: 'r2', ruleSets: [], devices: [] });
    assert.deepEqual(held, [
      { deviceId: 'd', entries: [{ ts: T0, values: { v: 2 } }], alerts: [] },
    ]);
    assert.equal(e.revision, 'r2');
    assert.deepEqual(e.process('d', { v: 1 }, T0).payload, { v: 1 });
  });
});

/** Values of `v` the engine let out, in order, from single-value messages (closing every window). */
function run(rules: readonly Rule[], inputs: readonly { ts: number; v: number }[]) {
  const e = engine(rules);
  const out: { ts: number; v: unknown }[] = [];
  const alerts = [];
  for (const { ts, v } of inputs) {
    const r = e.process('d', { ts, values: { v } }, ts);
    alerts.push(...r.alerts);
    const entries = r.payload === undefined ? [] : [r.payload].flat();
    for (const entry of entries as { ts: number; values: { v: unknown } }[])
      out.push({ ts: entry.ts, v: entry.values.v });
  }
  for (const o of e.due(Number.POSITIVE_INFINITY)) {
    alerts.push(...o.alerts);
    for (const entry of o.entries) out.push({ ts: entry.ts, v: entry.values.v });
  }
  return { out, alerts };
}

const series = fc
  .array(
    fc.record({ gap: fc.integer({ min: 0, max: 5000 }), v: fc.integer({ min: -1000, max: 1000 }) }),
    {
      maxLength: 200,
    },
  )
  .map((steps) => {
    let ts = T0;
    return steps.map(({ gap, v }) => {
      ts += gap;
      return { ts, v };
    });
  });

describe('edge rule properties', () => {
  test('downsample sum and count lose nothing and invent nothing', () => {
    fc.assert(
      fc.property(series, fc.integer({ min: 1, max: 20_000 }), (inputs, windowMs) => {
        const total = inputs.reduce((s, i) => s + i.v, 0);
        const sum = run([{ kind: 'downsample', key: 'v', windowMs, aggregate: 'sum' }], inputs);
        assert.equal(
          sum.out.reduce((s, o) => s + (o.v as number), 0),
          total,
        );
        const count = run([{ kind: 'downsample', key: 'v', windowMs, aggregate: 'count' }], inputs);
        assert.equal(
          count.out.reduce((s, o) => s + (o.v as number), 0),
          inputs.length,
        );
        for (const o of count.out) assert.equal(o.ts % windowMs, 0, 'stamped at a window start');
      }),
    );
  });

  test('deadband: the first value passes, each sent value moved by at least delta, each dropped one by less', () => {
    fc.assert(
      fc.property(series, fc.integer({ min: 0, max: 300 }), (inputs, delta) => {
        const { out } = run([{ kind: 'deadband', key: 'v', delta }], inputs);
        if (inputs.length > 0) assert.deepEqual(out[0], inputs[0]);
        let last: number | undefined;
        let o = 0;
        for (const input of inputs) {
          const sent =
            out[o]?.ts === input.ts &&
            out[o]?.v === input.v &&
            (last === undefined || (input.v !== last && Math.abs(input.v - last) >= delta));
          if (sent) {
            last = input.v;
            o++;
          } else
            assert.ok(last !== undefined && (input.v === last || Math.abs(input.v - last) < delta));
        }
        assert.equal(o, out.length);
      }),
    );
  });

  test('alerts alternate firing and cleared, and end in the state of the last value', () => {
    fc.assert(
      fc.property(series, fc.integer({ min: -500, max: 500 }), (inputs, above) => {
        const { alerts } = run([{ kind: 'alert', name: 'a', key: 'v', above }], inputs);
        for (const [i, a] of alerts.entries())
          assert.equal(a.state, i % 2 === 0 ? 'firing' : 'cleared');
        const last = inputs.at(-1);
        const firing = alerts.at(-1)?.state === 'firing';
        assert.equal(firing, last !== undefined && last.v > above);
      }),
    );
  });

  test('a scale followed by its inverse gives the value back', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 0.001, max: 1000, noNaN: true }),
        fc.double({ min: -1000, max: 1000, noNaN: true }),
        (v, factor, offset) => {
          const e = engine([
            { kind: 'scale', key: 'v', factor, offset },
            { kind: 'scale', key: 'v', factor: 1 / factor, offset: -offset / factor },
          ]);
          const back = (e.process('d', { v }, T0).payload as { values: { v: number } }).values.v;
          assert.ok(Math.abs(back - v) <= 1e-6 * Math.max(1, Math.abs(v)), `${v} -> ${back}`);
        },
      ),
    );
  });
});
