import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { openJson, sealJson } from '../sealed-json.ts';
import type { EdgeRpcRequest } from './rpc-relay.ts';

/** Where a request the node holds is: waiting for its device, or delivered and awaiting the answer. */
export type RpcState = 'held' | 'delivered';

/** The relay's durable memory, so a restart loses no request the node confirmed. */
export interface RpcJournal {
  put(request: EdgeRpcRequest, state: RpcState): void;
  remove(requestId: string): void;
  load(): { request: EdgeRpcRequest; state: RpcState }[];
  close(): void;
}

/** The file of the RPC journal inside a node directory. */
export const RPC_JOURNAL_FILE = 'rpc.db';

/** Requests in a journal by state, read without the key and without writing (for `status`). */
export function readRpcStatus(path: string): Record<RpcState, number> {
  const counts = { held: 0, delivered: 0 };
  if (!existsSync(path)) return counts;
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = db.prepare('SELECT state, count(*) AS n FROM requests GROUP BY state').all() as {
      state: RpcState;
      n: number;
    }[];
    for (const row of rows) counts[row.state] = Number(row.n);
    return counts;
  } finally {
    db.close();
  }
}

/**
 * The RPC journal in SQLite (WAL, synchronous=FULL), each request sealed with AES-256-GCM
 * under the node's key and bound to its id, since methods and params may be sensitive.
 */
export class SqliteRpcJournal implements RpcJournal {
  readonly #db: DatabaseSync;
  readonly #key: Buffer;

  constructor(path: string, key: Uint8Array) {
    if (key.length !== 32) throw new Error('the journal key must be 32 bytes');
    this.#key = Buffer.from(key);
    this.#db = new DatabaseSync(path);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      CREATE TABLE IF NOT EXISTS requests (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('held', 'delivered')),
        sealed BLOB NOT NULL
      ) STRICT;
    `);
  }

  put(request: EdgeRpcRequest, state: RpcState): void {
    this.#db
      .prepare('INSERT OR REPLACE INTO requests (id, state, sealed) VALUES (?, ?, ?)')
      .run(request.requestId, state, sealJson(this.#key, request.requestId, request));
  }

  remove(requestId: string): void {
    this.#db.prepare('DELETE FROM requests WHERE id = ?').run(requestId);
  }

  load(): { request: EdgeRpcRequest; state: RpcState }[] {
    const rows = this.#db.prepare('SELECT id, state, sealed FROM requests').all() as {
      id: string;
      state: RpcState;
      sealed: Uint8Array;
    }[];
    return rows.map((row) => ({
      request: openJson(this.#key, row.id, row.sealed) as EdgeRpcRequest,
      state: row.state,
    }));
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
