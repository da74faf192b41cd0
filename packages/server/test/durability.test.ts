/**
 * Acknowledged means durable: writers hammer a real server process over HTTP, the server is
 * SIGKILLed the moment enough 201s have come back (other requests still in flight), and a
 * restarted server on the same stores must return every acknowledged record exactly as sent,
 * and nothing that is not a whole record some writer sent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendNames, openBackend } from './support/backends.ts';
import { httpCall } from './support/http.ts';
import { type PlatformProcess, startPlatformProcess } from './support/platform-process.ts';

const ADMIN_TOKEN = `pa_durability_${'d'.repeat(40)}`;
/** Concurrent writer loops, each with one request in flight at a time. */
const WRITERS = 12;
/** 201s to collect before the kill. */
const ACKS_BEFORE_KILL = 600;

const NOTE_SCHEMA = {
  type: 'object',
  required: ['writer', 'seq', 'phase', 'text'],
  additionalProperties: false,
  properties: {
    writer: { type: 'integer', minimum: 0 },
    seq: { type: 'integer', minimum: 0 },
    phase: { type: 'string', enum: ['created', 'replaced'] },
    text: { type: 'string' },
  },
} as const;

interface Note {
  writer: number;
  seq: number;
  phase: 'created' | 'replaced';
  text: string;
}

/** Checks NOTE_SCHEMA by hand, so the check does not share code with the server's validator. */
function isNote(data: unknown): data is Note {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return false;
  const note = data as Record<string, unknown>;
  return (
    Object.keys(note).sort().join() === 'phase,seq,text,writer' &&
    Number.isInteger(note.writer) &&
    Number.isInteger(note.seq) &&
    (note.phase === 'created' || note.phase === 'replaced') &&
    typeof note.text === 'string'
  );
}

/** Bodies of varied size (up to a few pages), so a torn write would show. */
function noteBody(writer: number, seq: number, phase: Note['phase']): Note {
  const filler = `${phase}:${writer}:${seq}:`.repeat(20 + ((writer * 31 + seq * 17) % 300));
  return { writer, seq, phase, text: filler };
}

/** A record as the API returns it. */
interface StoredRecord {
  readonly id: string;
  readonly version: number;
  readonly data: Record<string, unknown>;
}

/** What a writer sent and what the server acknowledged, per (writer, seq). */
interface Attempt {
  readonly created: Note;
  readonly replaced: Note;
  id?: string;
  /** The PUT was sent (it may or may not have committed). */
  replaceSent: boolean;
  replaceAcked: boolean;
}

/**
 * Runs the writers until their requests fail because the server is gone. The kill is sent
 * synchronously on the response that brings the acknowledgements to ACKS_BEFORE_KILL, so the
 * other writers' requests are in flight at that moment.
 */
async function writeUntilKilled(server: PlatformProcess, key: string) {
  const attempts = new Map<string, Attempt>();
  const unexpected: string[] = [];
  let acks = 0;
  let inFlight = 0;
  let inFlightAtKill = 0;
  const acknowledged = () => {
    acks += 1;
    if (acks !== ACKS_BEFORE_KILL) return;
    inFlightAtKill = inFlight;
    server.child.kill('SIGKILL');
  };
  const send = async (...args: Parameters<typeof httpCall>) => {
    inFlight += 1;
    try {
      return await httpCall(...args);
    } finally {
      inFlight -= 1;
    }
  };
  const writer = async (w: number) => {
    for (let seq = 0; ; seq += 1) {
      const attempt: Attempt = {
        created: noteBody(w, seq, 'created'),
        replaced: noteBody(w, seq, 'replaced'),
        replaceSent: false,
        replaceAcked: false,
      };
      attempts.set(`${w}:${seq}`, attempt);
      try {
        const created = await send(
          server.url,
          'POST',
          '/v1/collections/notes/records',
          key,
          attempt.created,
        );
        if (created.status !== 201) {
          unexpected.push(`POST ${created.status} ${JSON.stringify(created.body)}`);
          return;
        }
        attempt.id = created.body.id;
        acknowledged();
        // Every other writer also replaces its record, conditionally on the version it made.
        if (w % 2 === 1) continue;
        attempt.replaceSent = true;
        const replaced = await send(
          server.url,
          'PUT',
          `/v1/collections/notes/records/${attempt.id}`,
          key,
          attempt.replaced,
          { 'if-match': '"1"' },
        );
        if (replaced.status !== 200) {
          unexpected.push(`PUT ${replaced.status} ${JSON.stringify(replaced.body)}`);
          return;
        }
        attempt.replaceAcked = true;
        acknowledged();
      } catch {
        return; // the server is gone
      }
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
  return { attempts, unexpected, acks, inFlightAtKill };
}

async function listAll(url: string, key: string): Promise<StoredRecord[]> {
  const items: StoredRecord[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await httpCall(url, 'GET', `/v1/collections/notes/records?limit=500${query}`, key);
    assert.equal(page.status, 200);
    items.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor !== null);
  return items;
}

for (const backend of backendNames()) {
  describe(`durability on ${backend}`, () => {
    it('keeps every acknowledged write across a SIGKILL, and no torn ones', {
      timeout: 180_000,
    }, async (t) => {
      const fixture = await openBackend(backend);
      let server: PlatformProcess | undefined;
      try {
        server = await startPlatformProcess(fixture, { adminToken: ADMIN_TOKEN });
        const tenant = await httpCall(server.url, 'POST', '/v1/platform/tenants', ADMIN_TOKEN, {
          slug: 'durable',
          name: 'Durable',
        });
        assert.equal(tenant.status, 201);
        const issued = await httpCall(
          server.url,
          'POST',
          `/v1/platform/tenants/${tenant.body.id}/api-keys`,
          ADMIN_TOKEN,
          { name: 'writer' },
        );
        assert.equal(issued.status, 201);
        const key = issued.body.secret;
        const collection = await httpCall(server.url, 'PUT', '/v1/collections/notes', key, {
          schema: NOTE_SCHEMA,
        });
        assert.equal(collection.status, 201);

        const { attempts, unexpected, acks, inFlightAtKill } = await writeUntilKilled(server, key);
        assert.equal(await server.exited, 'SIGKILL');
        assert.deepEqual(unexpected, []);
        assert.ok(acks >= ACKS_BEFORE_KILL);
        assert.ok(inFlightAtKill > 0, 'the kill must land while requests are in flight');

        server = await startPlatformProcess(fixture, { adminToken: ADMIN_TOKEN });
        const url = server.url;

        // Every acknowledged write is there, exactly as sent.
        for (const attempt of attempts.values()) {
          if (attempt.id === undefined) continue;
          const read = await httpCall(
            url,
            'GET',
            `/v1/collections/notes/records/${attempt.id}`,
            key,
          );
          assert.equal(read.status, 200, `acknowledged record ${attempt.id} is missing`);
          if (attempt.replaceAcked) {
            assert.deepEqual(read.body.data, attempt.replaced);
            assert.equal(read.body.version, 2);
          } else if (read.body.version === 2) {
            assert.ok(attempt.replaceSent, 'a version 2 nobody asked for');
            assert.deepEqual(read.body.data, attempt.replaced);
          } else {
            assert.deepEqual(read.body.data, attempt.created);
            assert.equal(read.body.version, 1);
          }
        }

        // Nothing is half-written: each stored record is one whole body some writer sent.
        const stored = await listAll(url, key);
        const seen = new Set<string>();
        for (const item of stored) {
          assert.ok(isNote(item.data), `record ${item.id} does not match the schema`);
          const name = `${item.data.writer}:${item.data.seq}`;
          assert.ok(!seen.has(name), `record ${name} stored twice`);
          seen.add(name);
          const attempt = attempts.get(name);
          assert.ok(attempt !== undefined, `record ${name} was never sent`);
          assert.ok(item.version === 1 || (item.version === 2 && attempt.replaceSent));
          assert.deepEqual(item.data, item.version === 1 ? attempt.created : attempt.replaced);
          if (attempt.id !== undefined) assert.equal(item.id, attempt.id);
        }
        const acknowledgedCreates = [...attempts.values()].filter((a) => a.id !== undefined);
        assert.ok(stored.length >= acknowledgedCreates.length);
        assert.ok(stored.length <= attempts.size);
        t.diagnostic(
          `${acks} writes acknowledged, ${inFlightAtKill} in flight at the kill, ${stored.length} records after restart`,
        );
      } finally {
        server?.child.kill('SIGKILL');
        await server?.exited;
        await fixture.cleanup();
      }
    });
  });
}
