/**
 * Data key rotation and the background re-encryption job.
 *
 * `rotate` adds a data key version (it encrypts every write from then on) and records a job in
 * the tenant's store. The job moves records still under older versions to the new one, a batch
 * per group commit through the normal write path (ledger entry per record), so concurrent
 * writes interleave with it. Its progress is the data itself: a batch is "records still below
 * the target version", re-read each time, so a job interrupted by a crash resumes where the
 * last committed batch left it. The control plane lists tenants with a job that may still
 * run, so a restarted server finds them without opening every tenant's store. When no record
 * uses an older version any more, that version is retired: its wrapped key is erased.
 *
 * `renew` starts a version the same way, without a job, when the newest one has made
 * `dataKeyRotateEncryptions` encryptions: old versions keep decrypting, and only encryptions
 * wear a key.
 */
import { DataKey, wrapDataKey } from '@palisade/crypto';
import type { Logger } from 'pino';
import type { GroupCommitter, WriteEvent } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import { isUuid, uuid7 } from '../ids/index.ts';
import { storedState } from '../records/index.ts';
import type {
  ControlPlaneStore,
  DataKeyRow,
  KeyJobRow,
  RecordRow,
  TenantKekRow,
  TenantWriteTx,
} from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import { FIELDS_KEY_ID, type KeyService } from './key-service.ts';
import { resealRecord } from './record-cipher.ts';

/** A job as the API shows it. */
export interface KeyJobView extends Omit<KeyJobRow, 'error'> {
  /** Records still under an older version (0 once done). */
  readonly remaining: number;
  readonly error: string | null;
}

/** The tenant's key versions and how many records use each; no key material. */
export interface KeyStatus {
  readonly kekVersions: number[];
  readonly masterKeyId: string;
  readonly dataKeys: {
    keyId: string;
    version: number;
    kekVersion: number;
    state: string;
    records: number | null;
    /** Encryptions reserved under the version: never fewer than it made that were stored. */
    encryptions: number;
    createdAt: string;
    retiredAt: string | null;
  }[];
  readonly jobs: KeyJobView[];
}

export interface KeyRotationOptions {
  readonly keys: KeyService;
  readonly committer: GroupCommitter;
  readonly controlPlane: ControlPlaneStore;
  readonly batchSize: number;
  readonly logger: Logger;
  /**
   * Scale-out, in a process that runs no jobs: hands a job to the workers instead of
   * running it here.
   */
  readonly dispatch?: ((tenant: Tenant, jobId: string) => void) | undefined;
  /**
   * Scale-out, in a worker: the tenant's job lease, or undefined while another worker holds
   * it (that worker runs the job; one job per tenant runs at a time anywhere).
   */
  readonly claim?:
    | ((tenantId: string) => Promise<{ release(): Promise<void> } | undefined>)
    | undefined;
  /**
   * Scale-out: tells the other processes that the tenant's old versions were retired, so
   * they destroy their cached keys of them now rather than when their time limit ends.
   */
  readonly announceRetired?: ((tenantId: string) => void) | undefined;
}

type Step = 'more' | 'done' | 'stop';

/** The actor of the ledger entry of a version started because its predecessor was worn. */
const RENEW_ACTOR = 'key-limit';

export class KeyRotation {
  readonly #o: KeyRotationOptions;
  readonly #next = new Map<string, { tenant: Tenant; jobId: string }>();
  readonly #running = new Map<string, Promise<void>>();
  /** Per tenant: a renewal under way here. */
  readonly #renewing = new Map<string, Promise<void>>();
  #stopped = false;

  constructor(options: KeyRotationOptions) {
    this.#o = options;
  }

  /** Starts a new data key version now and a job that moves existing records to it. */
  async rotate(tenant: Tenant, actor: string): Promise<KeyJobView> {
    const kek = await this.#newestKek(tenant);
    const jobId = uuid7();
    await this.#o.controlPlane.keys.addPendingJob({ tenantId: tenant.id, jobId });
    const store = await this.#o.keys.store(tenant);
    const job = await this.#o.committer.submit(store, async (tx, record) => {
      const now = new Date().toISOString();
      const version = newestFieldVersion(await tx.keys.listDataKeys()) + 1;
      await this.#insertVersion(tx, tenant, kek, version, now);
      for (const old of await tx.keys.listKeyJobs()) {
        if (old.state !== 'running') continue;
        await tx.keys.putKeyJob({ ...old, state: 'superseded', updatedAt: now, finishedAt: now });
      }
      const row: KeyJobRow = {
        id: jobId,
        keyId: FIELDS_KEY_ID,
        targetVersion: version,
        state: 'running',
        processed: 0,
        createdAt: now,
        updatedAt: now,
        finishedAt: null,
        error: null,
      };
      await tx.keys.putKeyJob(row);
      record({
        actor,
        action: 'keys.rotate',
        resource: `keys/${FIELDS_KEY_ID}`,
        state: { keyId: FIELDS_KEY_ID, version, kekVersion: kek.version, job: jobId },
      });
      return row;
    });
    this.#o.keys.forget(tenant.id);
    this.kick(tenant, jobId);
    return this.#view(tenant, job);
  }

  /**
   * Starts the next field key version because `worn`, the newest, should encrypt no more (see
   * `EncryptionBudget`), unless a newer one exists already (another process or an operator was
   * first). In the background, once per tenant at a time; failures are logged, and the next
   * reservation past the threshold tries again.
   */
  renew(tenant: Tenant, worn: number): void {
    if (this.#stopped || this.#renewing.has(tenant.id)) return;
    const run = this.#renew(tenant, worn)
      .catch((error: unknown) =>
        this.#o.logger.warn(
          { err: error, tenant: tenant.id, version: worn },
          'keys: starting a new data key version failed',
        ),
      )
      .finally(() => this.#renewing.delete(tenant.id));
    this.#renewing.set(tenant.id, run);
  }

  async #renew(tenant: Tenant, worn: number): Promise<void> {
    const kek = await this.#newestKek(tenant);
    const store = await this.#o.keys.store(tenant);
    try {
      await this.#o.committer.submit(store, async (tx, record) => {
        const rows = await tx.keys.listDataKeys();
        const wornRow = rows.find((k) => k.keyId === FIELDS_KEY_ID && k.version === worn);
        if (wornRow === undefined || newestFieldVersion(rows) !== worn) return;
        const version = worn + 1;
        await this.#insertVersion(tx, tenant, kek, version, new Date().toISOString());
        record({
          actor: RENEW_ACTOR,
          action: 'keys.rotate',
          resource: `keys/${FIELDS_KEY_ID}`,
          state: {
            keyId: FIELDS_KEY_ID,
            version,
            kekVersion: kek.version,
            worn: { version: worn, encryptions: wornRow.encryptions },
          },
        });
      });
    } finally {
      // This process takes the new version (its own or another's) from the next write on.
      this.#o.keys.forget(tenant.id);
    }
  }

  async #newestKek(tenant: Tenant): Promise<TenantKekRow> {
    await this.#o.keys.dataKeys(tenant); // provisions a tenant made before keys existed
    const kek = (await this.#o.controlPlane.keys.listKeks(tenant.id)).at(-1);
    if (kek === undefined)
      throw new PalisadeError('PALISADE_KEYS_UNAVAILABLE', `tenant ${tenant.id} has no KEK`);
    return kek;
  }

  async #insertVersion(
    tx: TenantWriteTx,
    tenant: Tenant,
    kek: TenantKekRow,
    version: number,
    now: string,
  ): Promise<void> {
    const key = DataKey.generate(FIELDS_KEY_ID, version);
    try {
      await tx.keys.insertDataKey({
        keyId: FIELDS_KEY_ID,
        version,
        kekVersion: kek.version,
        wrapped: wrapDataKey(kek.publicKey, key, { tenantId: tenant.id, kekVersion: kek.version }),
        sealedSecret: null,
        state: 'active',
        encryptions: 0,
        createdAt: now,
        retiredAt: null,
      });
    } finally {
      key.destroy();
    }
  }

  /** A job's progress; PALISADE_KEY_JOB_NOT_FOUND when the tenant has no such job. */
  async job(tenant: Tenant, id: string): Promise<KeyJobView> {
    if (!isUuid(id))
      throw new PalisadeError('PALISADE_INVALID_ID', `job id ${JSON.stringify(id)} is not a UUID`);
    const store = await this.#o.keys.store(tenant);
    const job = await store.reader.keys.getKeyJob(id);
    if (job === undefined) throw new PalisadeError('PALISADE_KEY_JOB_NOT_FOUND', 'no such key job');
    if (job.state === 'running' && !this.#running.has(tenant.id)) this.kick(tenant, id);
    return this.#view(tenant, job);
  }

  async status(tenant: Tenant): Promise<KeyStatus> {
    const rows = await this.#o.keys.dataKeys(tenant, true);
    const store = await this.#o.keys.store(tenant);
    const counts = await store.reader.keys.recordsPerKeyVersion();
    const jobs = await store.reader.keys.listKeyJobs();
    const keks = await this.#o.controlPlane.keys.listKeks(tenant.id);
    return {
      kekVersions: keks.map((k) => k.version),
      masterKeyId: this.#o.keys.masterKeyId,
      dataKeys: rows.map((r) => ({
        keyId: r.keyId,
        version: r.version,
        kekVersion: r.kekVersion,
        state: r.state,
        records: r.keyId === FIELDS_KEY_ID ? (counts.get(r.version) ?? 0) : null,
        encryptions: r.encryptions,
        createdAt: r.createdAt,
        retiredAt: r.retiredAt,
      })),
      jobs: await Promise.all(jobs.map((job) => this.#view(tenant, job, counts))),
    };
  }

  async #view(tenant: Tenant, job: KeyJobRow, counts?: Map<number, number>): Promise<KeyJobView> {
    let remaining = 0;
    if (job.state === 'running') {
      const perVersion =
        counts ?? (await (await this.#o.keys.store(tenant)).reader.keys.recordsPerKeyVersion());
      for (const [version, n] of perVersion) if (version < job.targetVersion) remaining += n;
    }
    return { ...job, remaining };
  }

  /** Resumes every job the control plane lists as possibly unfinished (at start). */
  async resumePending(getTenant: (id: string) => Promise<Tenant | undefined>): Promise<void> {
    for (const pending of await this.#o.controlPlane.keys.listPendingJobs()) {
      const tenant = await getTenant(pending.tenantId);
      if (tenant === undefined || tenant.status === 'deleted') {
        await this.#o.controlPlane.keys.removePendingJob(pending);
        continue;
      }
      this.kick(tenant, pending.jobId);
    }
  }

  /** Runs the job in the background (after any job of the tenant already running). */
  kick(tenant: Tenant, jobId: string): void {
    if (this.#stopped) return;
    if (this.#o.dispatch !== undefined) {
      this.#o.dispatch(tenant, jobId);
      return;
    }
    this.#next.set(tenant.id, { tenant, jobId });
    if (this.#running.has(tenant.id)) return;
    const loop = (async () => {
      for (let next = this.#next.get(tenant.id); next !== undefined; ) {
        this.#next.delete(tenant.id);
        await this.#run(next.tenant, next.jobId);
        next = this.#next.get(tenant.id);
      }
    })().finally(() => this.#running.delete(tenant.id));
    this.#running.set(tenant.id, loop);
  }

  /** Lets running batches finish, then stops; unfinished jobs resume at the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#next.clear();
    await Promise.all([...this.#running.values(), ...this.#renewing.values()]);
  }

  async #run(tenant: Tenant, jobId: string): Promise<void> {
    const lease = await this.#o.claim?.(tenant.id).catch((error: unknown) => {
      this.#o.logger.warn({ err: error, tenant: tenant.id }, 'key job lease unavailable');
      return undefined;
    });
    if (this.#o.claim !== undefined && lease === undefined) return;
    try {
      await this.#runClaimed(tenant, jobId);
    } finally {
      await lease?.release();
    }
  }

  async #runClaimed(tenant: Tenant, jobId: string): Promise<void> {
    const pending = { tenantId: tenant.id, jobId };
    try {
      let step: Step = await this.#step(tenant, jobId);
      if (step === 'more')
        this.#o.logger.info({ tenant: tenant.id, job: jobId }, 're-encryption job running here');
      while (step === 'more' && !this.#stopped) {
        await new Promise((resolve) => setImmediate(resolve));
        step = await this.#step(tenant, jobId);
      }
      if (step !== 'more') await this.#o.controlPlane.keys.removePendingJob(pending);
    } catch (error) {
      if (error instanceof PalisadeError) {
        await this.#fail(tenant, jobId, error).catch(() => undefined);
        await this.#o.controlPlane.keys.removePendingJob(pending).catch(() => undefined);
      }
      this.#o.logger.warn(
        { tenant: tenant.id, job: jobId, code: (error as { code?: unknown }).code },
        're-encryption job stopped',
      );
    }
  }

  async #fail(tenant: Tenant, jobId: string, error: PalisadeError): Promise<void> {
    const store = await this.#o.keys.store(tenant);
    await this.#o.committer.submit(store, async (tx, record) => {
      const job = await tx.keys.getKeyJob(jobId);
      if (job?.state !== 'running') return;
      const now = new Date().toISOString();
      await tx.keys.putKeyJob({
        ...job,
        state: 'failed',
        error: error.code,
        updatedAt: now,
        finishedAt: now,
      });
      record({
        actor: 'key-job',
        action: 'keys.job.fail',
        resource: `keys/jobs/${jobId}`,
        state: { error: error.code },
      });
    });
  }

  /** One batch: re-encrypt up to batchSize records, or finish and retire old versions. */
  async #step(tenant: Tenant, jobId: string): Promise<Step> {
    const store = await this.#o.keys.store(tenant);
    const { step, retiring } = await this.#o.committer.submit<{
      step: Step;
      retiring: boolean;
    }>(store, async (tx, record) => {
      const job = await tx.keys.getKeyJob(jobId);
      if (job?.state !== 'running') return { step: 'stop', retiring: false };
      const stale = await tx.keys.recordsBelowKeyVersion(job.targetVersion, this.#o.batchSize);
      const now = new Date().toISOString();
      if (stale.length === 0) {
        const done = await this.#finish(tx, job, now, record);
        return { step: done ? 'done' : 'more', retiring: true };
      }
      const rows: RecordRow[] = [];
      for (const ref of stale) {
        const row = await tx.getRecord(ref.collection, ref.id);
        if (row?.sealed !== undefined) rows.push(row);
      }
      const versions = new Set([job.targetVersion, ...rows.map((r) => r.sealed!.keyVersion)]);
      await this.#o.keys.spendEncryptions(tx, tenant, job.targetVersion, rows.length);
      const resealed = await this.#o.keys.withFieldKeys(tenant, versions, ({ ring }) =>
        rows.map((row) =>
          resealRecord(
            ring,
            ring.get(job.targetVersion),
            { tenantId: tenant.id, collection: row.collection, id: row.id },
            row.sealed!,
          ),
        ),
      );
      let moved = 0;
      for (const [i, row] of rows.entries()) {
        const sealed = resealed[i]!;
        if (!(await tx.keys.resealRecord(row.collection, row.id, row.sealed!.keyVersion, sealed)))
          continue;
        moved += 1;
        record({
          actor: 'key-job',
          action: 'record.reencrypt',
          resource: `collections/${row.collection}/records/${row.id}`,
          state: storedState(row.data, sealed),
        });
      }
      await tx.keys.putKeyJob({ ...job, processed: job.processed + moved, updatedAt: now });
      return { step: 'more', retiring: false };
    });
    // Once committed, not before: a key destroyed earlier could be loaded again meanwhile from
    // the key list as it was.
    if (retiring) {
      this.#o.keys.forget(tenant.id);
      this.#o.announceRetired?.(tenant.id);
    }
    return step;
  }

  /** Retires the older versions and ends the job; false when a record still uses one. */
  async #finish(
    tx: TenantWriteTx,
    job: KeyJobRow,
    now: string,
    record: (event: WriteEvent) => void,
  ): Promise<boolean> {
    for (const key of await tx.keys.listDataKeys()) {
      if (key.keyId !== job.keyId || key.state !== 'active') continue;
      if (key.version >= job.targetVersion) continue;
      // Another process, its key list older than the rotation, may have written under it.
      if (!(await tx.keys.retireDataKey(key.keyId, key.version, now))) return false;
      record({
        actor: 'key-job',
        action: 'keys.retire',
        resource: `keys/${key.keyId}`,
        state: { keyId: key.keyId, version: key.version },
      });
    }
    await tx.keys.putKeyJob({ ...job, state: 'done', updatedAt: now, finishedAt: now });
    record({
      actor: 'key-job',
      action: 'keys.job.done',
      resource: `keys/jobs/${job.id}`,
      state: { targetVersion: job.targetVersion, processed: job.processed },
    });
    return true;
  }
}

/** The newest field key version among `rows` (0 before any). */
function newestFieldVersion(rows: readonly DataKeyRow[]): number {
  return Math.max(0, ...rows.filter((k) => k.keyId === FIELDS_KEY_ID).map((k) => k.version));
}
