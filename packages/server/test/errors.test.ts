import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES, SETTINGS } from '../src/index.ts';

test('docs/errors.md documents exactly the codes the server can return, with their statuses', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Map<string, number>();
  for (const match of doc.matchAll(/^\| `(PALISADE_[A-Z_]+)` *\| (\d{3}) *\|/gm))
    documented.set(match[1]!, Number(match[2]));
  const actual = new Map(
    Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status as number]),
  );
  assert.deepEqual(Object.fromEntries(documented), Object.fromEntries(actual));
});

test('the README and docs name only catalogued codes, each with its own status', () => {
  const docs = ['../../../README.md', '../../../docs/errors.md'].map((path) =>
    readFileSync(new URL(path, import.meta.url), 'utf8').replace(/\s+/g, ' '),
  );
  const catalogue = new Map(
    Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status as number]),
  );
  // Names that are not HTTP codes: settings' variables, the CLI's, test probes and bus errors.
  const otherNames = new Set([
    ...Object.values(SETTINGS).map((spec) => spec.env),
    'PALISADE_URL',
    'PALISADE_TOKEN',
    'PALISADE_HOME',
    'PALISADE_NEW_MASTER_KEY',
    'PALISADE_POSTGRES_RUNTIME_PASSWORD',
    'PALISADE_CONFIG_INVALID',
    'PALISADE_BUS',
    'PALISADE_TEST_POSTGRES_URL',
    'PALISADE_TEST_NATS_URL',
    'PALISADE_TEST_MQTT_PEER_URL',
  ]);
  for (const text of docs) {
    for (const [name] of text.matchAll(/PALISADE_[A-Z0-9_]*[A-Z0-9]/g))
      assert.ok(catalogue.has(name) || otherNames.has(name), `${name} is not a code`);
    for (const [said, status, code] of text.matchAll(/\b(\d{3}) `(PALISADE_[A-Z0-9_]+)`/g))
      assert.equal(
        Number(status),
        catalogue.get(code!),
        `"${said}": ${code} is ${catalogue.get(code!)}`,
      );
    for (const [said, code, status] of text.matchAll(/`(PALISADE_[A-Z0-9_]+)` \((\d{3})\)/g))
      assert.equal(
        Number(status),
        catalogue.get(code!),
        `"${said}": ${code} is ${catalogue.get(code!)}`,
      );
  }
});
