/** The words `palisade ledger verify` sums a verified bundle up in. */
import type { BundleSummary } from '@palisade/ledger';

/** `1 batch`, `2 batches`: a count with its noun. */
export function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * What the bundle left out because the exporter may not read it, so was not checked: whole
 * collections by name, and single records counted per collection.
 */
function notChecked(summary: BundleSummary): string {
  const collections = summary.withheldCollections ?? [];
  const parts = collections.length === 0 ? [] : [`the records of ${collections.join(', ')}`];
  const perCollection = new Map<string, number>();
  for (const resource of summary.withheldRecords ?? []) {
    const collection = resource.split('/')[1]!;
    perCollection.set(collection, (perCollection.get(collection) ?? 0) + 1);
  }
  for (const [collection, n] of perCollection)
    parts.push(`${count(n, 'record', 'records')} of ${collection}`);
  return parts.length === 0
    ? ''
    : ` (not checked: ${parts.join(' and ')}, which this credential may not read)`;
}

/** The summary line's counts: entries, batches, and the records that match (when included). */
export function counted(summary: BundleSummary): string {
  const records =
    summary.records === null
      ? 'records not included'
      : count(summary.records, 'record matches', 'records match') + notChecked(summary);
  return `${count(summary.entries, 'entry', 'entries')} in ${count(summary.size, 'batch', 'batches')}, ${records}`;
}

/** What the summary says of witnesses: how many of those trusted cosigned, and the policy. */
export function witnessed(
  summary: BundleSummary,
  vkeys: readonly string[],
  quorum: number,
): string {
  const trusted = new Set(
    vkeys
      .map((vkey) => vkey.slice(0, vkey.indexOf('+')))
      .filter((n) => n !== summary.platformOrigin),
  );
  if (trusted.size === 0) return 'no witness vkeys given, so no witness cosignature checked';
  const names = summary.witnesses.length === 0 ? '' : ` (${summary.witnesses.join(', ')})`;
  const policy = quorum === 0 ? 'none required' : `${quorum} required`;
  return `cosigned by ${summary.witnesses.length} of ${count(trusted.size, 'trusted witness', 'trusted witnesses')}${names}, ${policy}`;
}
