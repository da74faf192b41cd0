import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadSettings, SETTINGS } from '../src/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'palisade-config-'));
const file = (content: unknown) => {
  const path = join(dir, `${Math.random()}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};

test('defaults: SQLite under ./data, 127.0.0.1:8080, one shard, 1 MiB bodies', () => {
  const s = loadSettings({ env: {}, configFile: null });
  assert.equal(s.data, './data');
  assert.equal(s.listen, '127.0.0.1:8080');
  assert.equal(s.database, undefined);
  assert.deepEqual(s.shards, ['s1']);
  assert.equal(s.bodyLimit, 1_048_576);
});

test('flags beat the environment, which beats the file, which beats defaults', () => {
  const configFile = file({
    listen: '0.0.0.0:1',
    bodyLimit: 2048,
    logLevel: 'warn',
    shards: ['a', 'b'],
  });
  const env = { PALISADE_LISTEN: '127.0.0.1:2', PALISADE_BODY_LIMIT: '4096' };
  const s = loadSettings({ flags: { listen: '127.0.0.1:3' }, env, configFile });
  assert.equal(s.listen, '127.0.0.1:3');
  assert.equal(s.bodyLimit, 4096);
  assert.equal(s.logLevel, 'warn');
  assert.deepEqual(s.shards, ['a', 'b']);
  assert.deepEqual(loadSettings({ env: { PALISADE_SHARDS: 'x, y' }, configFile: null }).shards, [
    'x',
    'y',
  ]);
});

test('a PostgreSQL control plane is its own first shard unless shards are named', () => {
  const s = loadSettings({ flags: { database: 'postgres://u@h/db' }, env: {}, configFile: null });
  assert.deepEqual(s.shards, ['postgres://u@h/db']);
});

test('bad settings are refused with the setting and its source named', () => {
  const cases: [Parameters<typeof loadSettings>[0], RegExp][] = [
    [
      { flags: { listen: 'nonsense' }, env: {}, configFile: null },
      /setting listen \(from --listen\)/,
    ],
    [{ flags: { listen: '127.0.0.1:65536' }, env: {}, configFile: null }, /setting listen/],
    [{ env: { PALISADE_MQTT: '0.0.0.0:99999' }, configFile: null }, /setting mqtt \(from/],
    [{ env: { PALISADE_MQTT_TLS: '[::1]:70000' }, configFile: null }, /setting mqttTls/],
    [{ env: { PALISADE_MQTT_WS: 'localhost:65540' }, configFile: null }, /setting mqttWs/],
    [
      { env: { PALISADE_BODY_LIMIT: '12kb' }, configFile: null },
      /setting bodyLimit \(from PALISADE_BODY_LIMIT\): must be an integer/,
    ],
    [{ env: { PALISADE_BODY_LIMIT: '10' }, configFile: null }, /must be at least 1024/],
    [
      // Node.js runs a timer longer than 2^31 - 1 ms after 1 ms: a retention pass every ms.
      { env: { PALISADE_TELEMETRY_RETENTION_INTERVAL_MS: '3000000000' }, configFile: null },
      /setting telemetryRetentionIntervalMs .*: must be at most 2147483647, got 3000000000/,
    ],
    [
      { flags: { telemetryStreamHeartbeatMs: '2147483648' }, env: {}, configFile: null },
      /setting telemetryStreamHeartbeatMs \(from --telemetry-stream-heartbeat-ms\): must be at most/,
    ],
    [
      // Given to the NATS client as a request timeout, a timer of its own.
      { env: { PALISADE_INTERNAL_REQUEST_TIMEOUT_MS: '2147483648' }, configFile: null },
      /setting internalRequestTimeoutMs .*: must be at most 2147483647, got 2147483648/,
    ],
    [
      // A refused request is held up to 1.5 times this (jitter), by one timer.
      { flags: { quotaRefusalDelayMs: '1431655765' }, env: {}, configFile: null },
      /setting quotaRefusalDelayMs \(from --quota-refusal-delay-ms\): must be at most 1431655764/,
    ],
    [
      // Past ten years a persistent request's expiry would not be a date.
      { flags: { rpcTimeoutMaxMs: '315360000001' }, env: {}, configFile: null },
      /setting rpcTimeoutMaxMs \(from --rpc-timeout-max-ms\): must be at most 315360000000/,
    ],
    [
      // Each month ahead is a partition made at start-up, one statement each.
      { env: { PALISADE_TELEMETRY_PARTITION_MONTHS_AHEAD: '121' }, configFile: null },
      /setting telemetryPartitionMonthsAhead .*: must be at most 120, got 121/,
    ],
    [
      // Every RPC naming no timeout would be refused.
      { flags: { rpcTimeoutMaxMs: '1000' }, env: {}, configFile: null },
      /setting rpcTimeoutDefaultMs \(30000\) must be at most rpcTimeoutMaxMs \(1000\)/,
    ],
    [
      // Half a certificate would serve plain HTTP where https:// was asked for.
      { flags: { tlsCert: 'cert.pem' }, env: {}, configFile: null },
      /setting tlsCert needs tlsKey \(--tls-key, PALISADE_TLS_KEY\)/,
    ],
    [
      { env: { PALISADE_TLS_KEY: 'key.pem' }, configFile: null },
      /setting tlsKey needs tlsCert \(--tls-cert, PALISADE_TLS_CERT\)/,
    ],
    [
      { env: { PALISADE_LOG_LEVEL: 'loud' }, configFile: null },
      /setting logLevel .* must be one of/,
    ],
    [{ env: { PALISADE_DATABASE: 'mysql://x' }, configFile: null }, /setting database/],
    [{ env: { PALISADE_SHARDS: 'ok,Not Ok' }, configFile: null }, /setting shards/],
    [{ env: {}, configFile: file({ listn: 'x' }) }, /unknown setting "listn"/],
    [{ env: {}, configFile: file({ constructor: 'x' }) }, /unknown setting "constructor"/],
    [{ env: {}, configFile: file('{ nope') }, /is not valid JSON/],
    [{ env: {}, configFile: file([1]) }, /must hold a JSON object/],
    [{ env: {}, configFile: join(dir, 'missing.json') }, /does not exist/],
  ];
  for (const [sources, message] of cases)
    assert.throws(
      () => loadSettings(sources),
      (e) => e instanceof ConfigError && message.test(e.message),
      String(message),
    );
});

test('gatewayChildrenMax: 10000 by default, an integer of at least 1 from any source', () => {
  assert.equal(loadSettings({ env: {}, configFile: null }).gatewayChildrenMax, 10_000);
  const env = { PALISADE_GATEWAY_CHILDREN_MAX: '3' };
  assert.equal(loadSettings({ env, configFile: null }).gatewayChildrenMax, 3);
  const configFile = file({ gatewayChildrenMax: 7 });
  assert.equal(loadSettings({ env: {}, configFile }).gatewayChildrenMax, 7);
  const flags = { gatewayChildrenMax: '1' };
  assert.equal(loadSettings({ flags, env, configFile }).gatewayChildrenMax, 1);
  const refused: [Parameters<typeof loadSettings>[0], RegExp][] = [
    [
      { env: { PALISADE_GATEWAY_CHILDREN_MAX: '0' }, configFile: null },
      /setting gatewayChildrenMax \(from PALISADE_GATEWAY_CHILDREN_MAX\): must be at least 1/,
    ],
    [
      { flags: { gatewayChildrenMax: '2.5' }, env: {}, configFile: null },
      /setting gatewayChildrenMax \(from --gateway-children-max\): must be an integer/,
    ],
    [
      { env: {}, configFile: file({ gatewayChildrenMax: -1 }) },
      /setting gatewayChildrenMax .*must be at least 1/,
    ],
  ];
  for (const [sources, message] of refused)
    assert.throws(
      () => loadSettings(sources),
      (e) => e instanceof ConfigError && message.test(e.message),
      String(message),
    );
});

test('the admin token never appears in a configuration error', () => {
  assert.throws(
    () => loadSettings({ env: { PALISADE_ADMIN_TOKEN: 'short secret' }, configFile: null }),
    (e) => e instanceof ConfigError && !e.message.includes('short secret'),
  );
});

test("the README's settings table has one row per setting, with its flag, variable and default", () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const lines = readme.split('\n');
  const header = lines.findIndex((line) =>
    /^\| setting +\| flag +\| environment +\| default/.test(line),
  );
  assert.ok(header >= 0, 'README has the settings table');
  const rows = new Map<string, string[]>();
  for (let i = header + 2; lines[i]?.startsWith('|'); i++) {
    const cells = lines[i]!.split(/(?<!\\)\|/)
      .slice(1, -1)
      .map((cell) => cell.trim());
    const name = /^`(\w+)`$/.exec(cells[0] ?? '')?.[1];
    assert.ok(name !== undefined && Object.hasOwn(SETTINGS, name), `not a setting: ${lines[i]}`);
    assert.ok(!rows.has(name), `two rows for ${name}`);
    rows.set(name, cells);
  }
  const defaults = loadSettings({ env: {}, configFile: null }) as unknown as Record<
    string,
    unknown
  >;
  for (const [name, spec] of Object.entries(SETTINGS)) {
    const [, flag = '', env = '', documented = ''] = rows.get(name) ?? [];
    assert.ok(rows.has(name), `README's settings table lacks ${name}`);
    assert.ok(flag.includes(`\`--${spec.flag}\``), `${name}: the flag is --${spec.flag}`);
    assert.ok(env.includes(`\`${spec.env}\``), `${name}: the variable is ${spec.env}`);
    const value = defaults[name];
    const actual = Array.isArray(value) ? value.join(',') : value;
    const shown = /^`([^`]*)`/.exec(documented)?.[1];
    // A default computed at start (a path under DATA, a key fingerprint) is described, not given.
    if (actual === undefined || actual === '') continue;
    assert.equal(shown, String(actual), `${name}: the default is ${String(actual)}`);
  }
});
