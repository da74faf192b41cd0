import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../config/index.ts';
import type { PlatformLogStore } from './platform-log-store.ts';
import { PostgresControlPlaneStore } from './postgres/postgres-control-plane-store.ts';
import { PostgresPlatformLogStore } from './postgres/postgres-platform-log-store.ts';
import { PostgresShardStore } from './postgres/postgres-shard-store.ts';
import { refuseHalfRestored } from './sqlite/platform-restore.ts';
import { SqliteControlPlaneStore } from './sqlite/sqlite-control-plane-store.ts';
import { SqlitePlatformLogStore } from './sqlite/sqlite-platform-log-store.ts';
import { SqliteShardStore } from './sqlite/sqlite-shard-store.ts';
import type { ControlPlaneStore, ShardStore } from './types.ts';

/** The control plane and every shard, opened and migrated. */
export interface Stores {
  readonly controlPlane: ControlPlaneStore;
  readonly shards: ReadonlyMap<string, ShardStore>;
  readonly platformLog: PlatformLogStore;
  close(): Promise<void>;
}

function parseShard(spec: string): { id: string; postgresUrl?: string } {
  const named = /^([a-z0-9][a-z0-9-]{0,31})=(postgres(ql)?:\/\/.+)$/.exec(spec);
  if (named !== null) return { id: named[1]!, postgresUrl: named[2]! };
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const url = new URL(spec);
    return {
      id: `pg-${url.hostname}-${url.port || '5432'}-${url.pathname.slice(1)}`,
      postgresUrl: spec,
    };
  }
  return { id: spec };
}

/** Opens the stores the settings name, migrating each; files go under `settings.data`. */
export async function openStores(settings: Settings): Promise<Stores> {
  refuseHalfRestored(settings.data);
  mkdirSync(settings.data, { recursive: true });
  const controlPlane: ControlPlaneStore =
    settings.database === undefined
      ? new SqliteControlPlaneStore(join(settings.data, 'platform.db'))
      : new PostgresControlPlaneStore(settings.database, settings.postgresPoolSize);
  const platformLog: PlatformLogStore =
    settings.database === undefined
      ? new SqlitePlatformLogStore(join(settings.data, 'platform-log.db'))
      : new PostgresPlatformLogStore(settings.database, settings.postgresPoolSize);
  const shards = new Map<string, ShardStore>();
  const close = async () => {
    for (const shard of shards.values()) await shard.close();
    await platformLog.close();
    await controlPlane.close();
  };
  try {
    await controlPlane.migrate();
    await platformLog.migrate();
    for (const spec of settings.shards) {
      const { id, postgresUrl } = parseShard(spec);
      const shard =
        postgresUrl === undefined
          ? new SqliteShardStore(
              id,
              join(settings.data, 'shards', id),
              settings.sqliteMaxOpenTenants,
            )
          : await PostgresShardStore.open(
              id,
              postgresUrl,
              settings.postgresRuntimeRole,
              settings.postgresPoolSize,
            );
      shards.set(id, shard);
    }
    await controlPlane.registerShards(
      [...shards.values()].map((s) => ({ id: s.id, location: redactUrl(s.location) })),
    );
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  return { controlPlane, shards, platformLog, close };
}

function redactUrl(location: string): string {
  if (!/^postgres(ql)?:\/\//.test(location)) return location;
  const url = new URL(location);
  url.password = '';
  return url.toString();
}
