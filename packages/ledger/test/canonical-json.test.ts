import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, isLedgerError, parseCanonicalJson } from '../src/index.ts';

/** RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical serializations. */
const NUMBERS: [string, string][] = [
  ['0000000000000000', '0'],
  ['8000000000000000', '0'],
  ['0000000000000001', '5e-324'],
  ['8000000000000001', '-5e-324'],
  ['7fefffffffffffff', '1.7976931348623157e+308'],
  ['ffefffffffffffff', '-1.7976931348623157e+308'],
  ['4340000000000000', '9007199254740992'],
  ['c340000000000000', '-9007199254740992'],
  ['4430000000000000', '295147905179352830000'],
  ['44b52d02c7e14af5', '9.999999999999997e+22'],
  ['44b52d02c7e14af6', '1e+23'],
  ['44b52d02c7e14af7', '1.0000000000000001e+23'],
  ['444b1ae4d6e2ef4e', '999999999999999700000'],
  ['444b1ae4d6e2ef4f', '999999999999999900000'],
  ['444b1ae4d6e2ef50', '1e+21'],
  ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
  ['3eb0c6f7a0b5ed8d', '0.000001'],
  ['41b3de4355555553', '333333333.3333332'],
  ['41b3de4355555554', '333333333.33333325'],
  ['41b3de4355555555', '333333333.3333333'],
  ['41b3de4355555556', '333333333.3333334'],
  ['41b3de4355555557', '333333333.33333343'],
  ['becbf647612f3696', '-0.0000033333333333333333'],
  ['43143ff3c1cb0959', '1424953923781206.2'],
];

function fromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

const rejects = (e: unknown) => isLedgerError(e, 'LEDGER_BAD_JSON');

describe('canonicalJson (RFC 8785)', () => {
  it('serializes the Appendix B numbers', () => {
    for (const [bits, want] of NUMBERS) assert.equal(canonicalJson(fromBits(bits)), want, bits);
  });

  it('rejects NaN and Infinity (Appendix B)', () => {
    for (const bits of ['7fffffffffffffff', '7ff0000000000000', 'fff0000000000000']) {
      assert.throws(() => canonicalJson(fromBits(bits)), rejects);
    }
  });

  it('canonicalizes the §3.2.2 example', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    assert.equal(
      canonicalJson(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts keys by UTF-16 code units (§3.2.3 example)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    const keys = Object.keys(JSON.parse(canonicalJson(input)) as object);
    // JSON.parse reorders integer-like keys, so check the text order instead.
    assert.equal(keys.length, 7);
    const text = canonicalJson(input);
    const order = ['\\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'].map((k) =>
      text.indexOf(`"${k}"`),
    );
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
    );
    assert.ok(order.every((i) => i > 0));
  });

  it('rejects values JSON cannot carry, naming the path', () => {
    const bad: unknown[] = [
      undefined,
      () => 1,
      1n,
      Symbol('x'),
      new Date(0),
      { a: [1, undefined] },
      '\ud800',
      { '\udc00': 1 },
    ];
    for (const value of bad) assert.throws(() => canonicalJson(value), rejects);
    assert.throws(() => canonicalJson({ a: [0, Number.NaN] }), /\$\.a\[1\]/);
    // A hole is no JSON value: JSON.stringify would write null, a bare join nothing at all.
    // biome-ignore lint/suspicious/noSparseArray: the hole is the input under test
    assert.throws(() => canonicalJson({ a: [1, , 2] }), /\$\.a\[1\]/);
  });

  it('bounds nesting depth', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    assert.throws(() => canonicalJson(deep), rejects);
  });

  it('parseCanonicalJson accepts only canonical text', () => {
    assert.deepEqual(parseCanonicalJson('{"a":1,"b":[true]}'), { a: 1, b: [true] });
    for (const text of ['{"b":1,"a":2}', '{ "a":1}', '1.0', '{"a":1,"a":1}', 'nope']) {
      assert.throws(() => parseCanonicalJson(text), rejects, text);
    }
  });

  it('round-trips any JSON value (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        assert.equal(canonicalJson(JSON.parse(text)), text);
        assert.deepEqual(parseCanonicalJson(text), JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it('writes every well-formed string, as a value or a key, as JSON.stringify does (property)', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)) }),
    );
    fc.assert(
      fc.property(text, (value) => {
        assert.equal(canonicalJson(value), JSON.stringify(value));
        assert.equal(
          canonicalJson({ [value]: value }),
          `{${JSON.stringify(value)}:${JSON.stringify(value)}}`,
        );
      }),
      { numRuns: 2000 },
    );
    assert.throws(() => canonicalJson({ a: '\ud800' }), rejects);
    assert.throws(() => canonicalJson({ '\udc00': 1 }), rejects);
  });

  it('is independent of key insertion order (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })), (object) => {
        const reversed = Object.fromEntries(Object.entries(object).reverse());
        assert.equal(canonicalJson(reversed), canonicalJson(object));
      }),
    );
  });
});
