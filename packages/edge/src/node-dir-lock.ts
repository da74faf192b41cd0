/**
 * One running agent per node directory. `start` owns the outbox's batches, the credential
 * cache, the rules cache and the RPC journal under DIR: a second agent there would form,
 * re-form and confirm the same batches, and hold the same RPC requests, beside the first.
 * The agent holds `DIR/agent.lock` exclusively for its whole run: a SQLite write lock, which
 * the operating system drops when the process dies, so an agent killed with SIGKILL never
 * blocks the next start. `DIR/agent.pid` names the holder for a refusal; it is informational
 * only, the lock alone decides. `accept` and `status` take no lock: they are safe beside it.
 */

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** The file names of the lock inside a node directory. */
export const AGENT_LOCK_FILE = 'agent.lock';
export const AGENT_PID_FILE = 'agent.pid';

const SQLITE_BUSY = 5;

/** What `DIR/agent.pid` records about the agent holding the directory. */
export interface AgentHolder {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

/** Thrown when another agent holds the directory; `holder` is undefined if it is not known yet. */
export class NodeDirInUseError extends Error {
  readonly code = 'EDGE_DIR_IN_USE';
  readonly holder: AgentHolder | undefined;
  constructor(dir: string, holder: AgentHolder | undefined) {
    const who =
      holder === undefined
        ? 'another palisade-edge agent'
        : `another palisade-edge agent (pid ${holder.pid} on ${holder.host}, since ${holder.since})`;
    const stop = holder === undefined ? 'stop it' : `stop it (kill -TERM ${holder.pid})`;
    super(
      `${who} is running on ${dir}; ${stop} and start this one again, or give this node a --dir of its own (palisade-edge enroll)`,
    );
    this.name = 'NodeDirInUseError';
    this.holder = holder;
  }
}

function readHolder(file: string): AgentHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(file, 'utf8')) as Partial<AgentHolder>;
    return typeof holder.pid === 'number' && typeof holder.host === 'string'
      ? { pid: holder.pid, host: holder.host, since: String(holder.since) }
      : undefined;
  } catch {
    return undefined;
  }
}

/** The directory held by this process until `release`. */
export interface NodeDirLock {
  release(): void;
}

/** Takes `dir` for this agent, or throws NodeDirInUseError naming the agent that has it. */
export function acquireNodeDirLock(dir: string): NodeDirLock {
  const pidFile = join(dir, AGENT_PID_FILE);
  const db = new DatabaseSync(join(dir, AGENT_LOCK_FILE), { timeout: 0 });
  try {
    db.exec('CREATE TABLE IF NOT EXISTS agent_lock (id INTEGER PRIMARY KEY)');
    db.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    db.close();
    if ((error as { errcode?: number }).errcode === SQLITE_BUSY)
      throw new NodeDirInUseError(dir, readHolder(pidFile));
    throw error;
  }
  const holder: AgentHolder = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
  };
  writeFileSync(pidFile, `${JSON.stringify(holder)}\n`, { mode: 0o600 });
  return {
    release() {
      if (!db.isOpen) return;
      // Removed while the lock is still held, so it never names the next holder wrongly.
      rmSync(pidFile, { force: true });
      db.exec('ROLLBACK');
      db.close();
    },
  };
}
