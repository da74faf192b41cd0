import type { KeyChange } from './key-change.ts';

/** The exported form of one tenant's ledger: everything `verifyBundle` needs, nothing else. */
export interface LedgerBundle {
  readonly format: 'palisade-ledger-bundle/v1';
  /** The tenant id the log belongs to. */
  readonly tenant: string;
  /** The platform's verifier keys as the server published them (informational: trust your own copy). */
  readonly keys: readonly string[];
  /**
   * Replacements of the platform's lost signing key up to the platform checkpoint, oldest
   * first, each with the platform-log consistency proof (standard base64) from its size to the
   * next change's (the last: to the platform checkpoint's), for `followKeyChanges`. Absent in
   * bundles made before it existed.
   */
  readonly keyChanges?: readonly (KeyChange & {
    readonly size: number;
    readonly proof: readonly string[];
  })[];
  /** The tenant log root the server computes from its stored subtree hashes (base64). */
  readonly storedRoot: string;
  /** The tenant checkpoint as a signed note. */
  readonly checkpoint: string;
  /** The tenant checkpoint's inclusion in the platform log and the platform checkpoint. */
  readonly platform: {
    readonly index: number;
    readonly proof: readonly string[];
    readonly checkpoint: string;
  };
  /** Every batch leaf (canonical JSON batch headers), in log order. */
  readonly batches: readonly string[];
  /**
   * Every entry (canonical JSON), in seq order, with the salt opening its commitment: null when
   * it commits nothing, or when the exporter may not read the state it commits (only the
   * salts of the records carried are checked).
   */
  readonly entries: readonly { readonly entry: string; readonly salt: string | null }[];
  /**
   * The records the tenant's store holds now, to check against their newest commitments;
   * null when the exporter may not read them (the platform admin's export), in which case
   * only the ledger itself is verified.
   */
  readonly records: readonly { readonly resource: string; readonly data: unknown }[] | null;
  /** The tenant log size (batches) the records reflect: entries of later batches are newer than them. */
  readonly recordsAt: number | null;
  /**
   * The collections whose records the exporter may not read, so the bundle leaves them (and
   * the salts of their entries) out; only the other records are checked. Absent in bundles
   * made before it existed (none withheld); null when `records` is.
   */
  readonly withheldCollections?: readonly string[] | null;
  /**
   * The records of the other collections that the exporter may not read, by resource
   * (`collections/<name>/records/<id>`): left out with the salts of their entries, and not
   * checked. Each is a record of the ledger at `recordsAt`, so a verifier that does not know
   * this field finds it missing from the store and fails. Absent in bundles made before it
   * existed (none withheld); null when `records` is.
   */
  readonly withheldRecords?: readonly string[] | null;
}

/** What a verified bundle proves. */
export interface BundleSummary {
  readonly tenant: string;
  /** Tenant log size (batches) at the signed checkpoint. */
  readonly size: number;
  /** The signed tenant root (base64). */
  readonly root: string;
  readonly entries: number;
  /** Records checked against their commitments, or null when the bundle carries none. */
  readonly records: number | null;
  /** Collections whose records the bundle leaves out (not checked); null when it carries none. */
  readonly withheldCollections: readonly string[] | null;
  /** Records of the other collections that the bundle leaves out (not checked); null when it carries none. */
  readonly withheldRecords: readonly string[] | null;
  /** The origin of the platform log the tenant log is anchored in. */
  readonly platformOrigin: string;
  readonly platformSize: number;
  /** Key names whose signatures or cosignatures on the platform checkpoint verified. */
  readonly platformSigners: readonly string[];
  /** Trusted witnesses every trusted key of which cosigned the platform checkpoint. */
  readonly witnesses: readonly string[];
}

/** How {@link verifyBundle} verifies, beyond the keys it trusts. */
export interface VerifyBundleOptions {
  /** Called as verification proceeds, for long bundles. */
  readonly progress?: BundleProgress;
  /**
   * How many trusted witnesses must have cosigned the platform checkpoint, each with every
   * one of its trusted keys (default 0: cosignatures are counted, none required).
   */
  readonly witnessQuorum?: number;
}

/** Progress of a long verification: `done` of `total` steps of `phase`. */
export type BundleProgress = (
  phase: 'entries' | 'batches' | 'records',
  done: number,
  total: number,
) => void;
