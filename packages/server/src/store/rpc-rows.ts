import type { RpcRow, RpcStatus } from './device-types.ts';
import { iso } from './row-values.ts';

/**
 * An RPC request row as a backend returns it. `params` and `response` may hold any JSON value,
 * a string included, so (unlike `json` in row-values) their JavaScript type cannot tell stored
 * text from a parsed value: `Json` is what the backend hands back for them.
 */
export interface RpcDbRow<Json> {
  id: string;
  device_id: string;
  method: string;
  params: Json;
  persistent: number | boolean;
  status: RpcStatus;
  response: Json | null;
  error: string | null;
  created_at: string | Date;
  expires_at: string | Date;
  updated_at: string | Date;
}

/**
 * The row mapper of a backend whose JSON columns `readJson` turns into their values: SQLite's
 * text must be parsed, PostgreSQL's jsonb comes parsed.
 */
export function rpcRowReader<Json>(
  readJson: (value: Json) => unknown,
): (row: RpcDbRow<Json>) => RpcRow {
  return (row) => ({
    id: row.id,
    deviceId: row.device_id,
    method: row.method,
    params: readJson(row.params),
    persistent: row.persistent === true || row.persistent === 1,
    status: row.status,
    response: row.response === null ? null : readJson(row.response),
    error: row.error,
    createdAt: iso(row.created_at),
    expiresAt: iso(row.expires_at),
    updatedAt: iso(row.updated_at),
  });
}
