/**
 * Master key rotation, offline (every server stopped, which the running lock enforces): every
 * tenant KEK seed is re-sealed under a new master key; public keys, wrapped data keys and
 * data are untouched. Idempotent: a KEK already sealed under the new key is skipped, so an
 * interrupted rotation is run again.
 *
 * With the default key file and no new key given, the new key is generated next to it
 * (`<file>.next`, mode 0600); after every KEK is re-sealed the old file is copied to
 * `<file>.previous` and the new one atomically renamed over it. Each tenant's ledger records
 * the rotation (the new master key's public id only).
 */
import { copyFile, rename } from 'node:fs/promises';
import { LocalKms, loadMasterKey, MasterKey, rotateMasterKey } from '@palisade/crypto';
import { commitState } from '@palisade/ledger';
import { nodeSha256 } from '@palisade/ledger/node';
import { GroupCommitter } from '../commit/index.ts';
import type { Settings } from '../config/index.ts';
import { resealIssuerKeys } from '../identity/index.ts';
import { sealBatch } from '../ledger/index.ts';
import { acquireRunningLock, openStores, type TenantReader } from '../store/index.ts';
import { masterKeyFile, openPlatformKms } from './master-key-source.ts';

export interface MasterRotationOptions {
  /** The new master key as text (hex or base64); otherwise a key file is used. */
  readonly newKey?: string | undefined;
  /** File of the new key (created when missing); default `<master key file>.next`. */
  readonly newKeyFile?: string | undefined;
}

export interface MasterRotationResult {
  readonly fromKeyId: string;
  readonly toKeyId: string;
  readonly keks: number;
  readonly resealed: number;
  readonly tenants: number;
  /** Where the new key is now (undefined when it was given as text). */
  readonly keyFile: string | undefined;
  /** Where the old key file was kept, when the new one replaced it. */
  readonly previousKeyFile: string | undefined;
}

/** The ledger resource of master key rotations. */
const KEK_RESOURCE = 'keys/kek';

/** True when the tenant's latest KEK entry already records the rotation to `state`. */
async function rotationRecorded(
  reader: TenantReader,
  state: { fromMasterKeyId: string; toMasterKeyId: string },
): Promise<boolean> {
  const row = await reader.latestEntry(KEK_RESOURCE);
  if (row?.salt == null) return false;
  return JSON.parse(row.entry).commitment === commitState(nodeSha256, row.salt, state);
}

/**
 * Re-seals every tenant KEK under a new master key; see the module comment. Refused with a
 * ConfigError while any server runs on the platform: it holds the old key and would seal new
 * KEKs under it.
 */
export async function rotatePlatformMasterKey(
  settings: Settings,
  options: MasterRotationOptions = {},
): Promise<MasterRotationResult> {
  const running = await acquireRunningLock(settings, 'exclusive');
  try {
    return await rotate(settings, options);
  } finally {
    await running.release();
  }
}

async function rotate(
  settings: Settings,
  options: MasterRotationOptions,
): Promise<MasterRotationResult> {
  const from = await openPlatformKms(settings, undefined, { generateIfMissing: false });
  const currentFile = masterKeyFile(settings);
  const ownsFile = settings.masterKey === undefined && settings.masterPassphrase === undefined;
  let newKey: MasterKey;
  let newFile: string | undefined;
  if (options.newKey !== undefined) {
    newKey = MasterKey.fromText(options.newKey, 'the new master key');
  } else {
    newFile = options.newKeyFile ?? `${currentFile}.next`;
    newKey = (await loadMasterKey({ keyFile: newFile, generateIfMissing: true })).key;
  }
  const to = new LocalKms(newKey);
  const stores = await openStores(settings);
  const committer = new GroupCommitter({ maxBatch: 1, maxWaitMs: 0, seal: sealBatch });
  try {
    const keks = await stores.controlPlane.keys.listAllKeks();
    const rotated = await rotateMasterKey(keks, from, to);
    const changed = rotated.filter((row, i) => row !== keks[i]);
    // The newest KEK first: it is the one a server checks its master key against at start,
    // so once any KEK is re-sealed the old key is refused until this run is finished.
    const newest = await stores.controlPlane.keys.newestKek();
    const isNewest = (row: { tenantId: string; version: number }) =>
      row.tenantId === newest?.tenantId && row.version === newest.version;
    for (const row of [...changed.filter(isNewest), ...changed.filter((r) => !isNewest(r))])
      await stores.controlPlane.keys.replaceSealedSeed(row.tenantId, row.version, row.sealedSeed);
    const state = { fromMasterKeyId: from.keyId, toMasterKeyId: to.keyId };
    let recorded = 0;
    // Every tenant, not only those re-sealed now: a run interrupted after re-sealing left
    // KEKs that are current but ledgers without the entry. A "rotation" to the same key is none.
    for (const tenantId of from.keyId === to.keyId ? [] : new Set(keks.map((k) => k.tenantId))) {
      const tenant = await stores.controlPlane.getTenant(tenantId);
      const shard = tenant === undefined ? undefined : stores.shards.get(tenant.shard);
      if (shard === undefined || tenant?.status === 'deleted') continue;
      const store = await shard.tenant(tenantId);
      if (await rotationRecorded(store.reader, state)) continue;
      await committer.submit(store, async (_tx, record) => {
        record({
          actor: 'platform-admin',
          action: 'keys.master-rotate',
          resource: KEK_RESOURCE,
          state,
        });
      });
      recorded += 1;
    }
    await committer.drain();
    // Tenant issuers' signing keys are sealed by the master key too.
    await resealIssuerKeys(stores.controlPlane.identity, from, to);
    let keyFile = newFile;
    let previousKeyFile: string | undefined;
    if (newFile !== undefined && ownsFile && options.newKeyFile === undefined) {
      previousKeyFile = `${currentFile}.previous`;
      await copyFile(currentFile, previousKeyFile);
      await rename(newFile, currentFile);
      keyFile = currentFile;
    }
    return {
      fromKeyId: from.keyId,
      toKeyId: to.keyId,
      keks: keks.length,
      resealed: changed.length,
      tenants: recorded,
      keyFile,
      previousKeyFile,
    };
  } finally {
    await stores.close();
  }
}
