/**
 * Who does a singleton job when several worker processes run. On PostgreSQL a lease is a
 * session-level advisory lock held on one connection of this process: the database grants it
 * to one session at a time and drops it when that session ends (a crashed or partitioned
 * process loses its leases with its connection). With SQLite there is one process, which
 * holds every lease.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

/** A held lease; `lost` turns true when the connection holding it went away. */
export interface Lease {
  readonly lost: boolean;
  release(): Promise<void>;
}

export interface Leases {
  /** The lease `name`, or undefined when another process holds it. */
  tryAcquire(name: string): Promise<Lease | undefined>;
  close(): Promise<void>;
}

/** The single process of an embedded platform: every lease is granted. */
export class LocalLeases implements Leases {
  async tryAcquire(): Promise<Lease> {
    return { lost: false, release: async () => undefined };
  }

  async close(): Promise<void> {}
}

/** The advisory-lock key of a lease name: the first 8 bytes of SHA-256, as a signed bigint. */
function lockKey(name: string): string {
  return createHash('sha256')
    .update(`palisade/lease/${name}`)
    .digest()
    .readBigInt64BE(0)
    .toString();
}

/** Advisory locks on one dedicated connection to the control-plane database. */
export class PostgresLeases implements Leases {
  readonly #url: string;
  #client: Promise<pg.Client> | undefined;
  #held = new Set<{ lost: boolean }>();
  #closed = false;

  constructor(url: string) {
    this.#url = url;
  }

  async tryAcquire(name: string): Promise<Lease | undefined> {
    if (this.#closed) return undefined;
    const client = await this.#connect();
    const key = lockKey(name);
    const result = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
      key,
    ]);
    if (result.rows[0]?.ok !== true) return undefined;
    const state = { lost: false };
    this.#held.add(state);
    return {
      get lost() {
        return state.lost;
      },
      release: async () => {
        if (!this.#held.delete(state) || state.lost) return;
        await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = await this.#client?.catch(() => undefined);
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  #connect(): Promise<pg.Client> {
    this.#client ??= (async () => {
      const client = new pg.Client({ connectionString: this.#url });
      client.on('error', () => this.#lose(client));
      client.on('end', () => this.#lose(client));
      await client.connect();
      return client;
    })().catch((error: unknown) => {
      this.#client = undefined;
      throw error;
    });
    return this.#client;
  }

  /** The connection ended: every lease on it is gone; the next acquire reconnects. */
  #lose(client: pg.Client): void {
    for (const state of this.#held) state.lost = true;
    this.#held.clear();
    this.#client = undefined;
    client.removeAllListeners('error');
    client.on('error', () => undefined);
  }
}
