import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ConfigError, type Settings } from '../config/index.ts';
import { SERVICE_TOKEN_MAX_LIFETIME_MS } from '../internal/index.ts';

/** The parts of the platform one process can run (`--role`). */
export const ROLES = ['api', 'ingest', 'worker'] as const;
export type Role = (typeof ROLES)[number];

/** What this process runs, and whether other processes run the rest on shared stores. */
export interface ProcessRoles {
  readonly api: boolean;
  readonly ingest: boolean;
  readonly worker: boolean;
  /** `api,ingest,worker` order, for service tokens and logs. */
  readonly name: string;
  /** This process: `<host>/<pid>/<random>`, named in its service tokens. */
  readonly processId: string;
  /**
   * SQLite files or the in-process bus live in the data folder, so this process must be the
   * only server on it.
   */
  readonly ownsDataFolder: boolean;
}

/**
 * The roles of the `role` setting, refusing a subset the stores cannot serve: the other
 * roles then run in other processes, which must share the control plane, the tenant shards
 * and the bus — SQLite files and the in-process bus belong to one process.
 */
export function processRoles(settings: Settings): ProcessRoles {
  const roles = new Set(settings.role as Role[]);
  const name = ROLES.filter((role) => roles.has(role)).join(',');
  if (settings.serviceTokenTtlMs > SERVICE_TOKEN_MAX_LIFETIME_MS)
    throw new ConfigError(
      `setting serviceTokenTtlMs must be at most ${SERVICE_TOKEN_MAX_LIFETIME_MS}, got ${settings.serviceTokenTtlMs}`,
    );
  const missing = [
    ...(settings.database === undefined ? ['--database postgres://… (PALISADE_DATABASE)'] : []),
    ...(settings.shards.some((shard) => !/^([a-z0-9-]+=)?postgres(ql)?:\/\//.test(shard))
      ? ['--shard [NAME=]postgres://… for every shard (PALISADE_SHARDS)']
      : []),
    ...(settings.nats === undefined ? ['--nats nats://… (PALISADE_NATS)'] : []),
  ];
  if (roles.size < ROLES.length && missing.length > 0)
    throw new ConfigError(
      `--role ${name} runs part of the platform, the rest in other processes, ` +
        `which share PostgreSQL and NATS; SQLite and the in-process bus are single-process: add ${missing.join(', ')}, or run every role here (--role api,ingest,worker)`,
    );
  return {
    api: roles.has('api'),
    ingest: roles.has('ingest'),
    worker: roles.has('worker'),
    name,
    processId: `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`,
    ownsDataFolder: missing.length > 0,
  };
}
