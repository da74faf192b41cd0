import { policyToJson } from '@cedar-policy/cedar-wasm/nodejs';
import { PalisadeError } from '../errors/index.ts';
import { CEDAR_NAMESPACE } from './cedar-schema.ts';

const RECORD_TYPE = `${CEDAR_NAMESPACE}::Record`;

/**
 * The ids of the records the policies name: every `Palisade::Record::"…"` literal, in a scope,
 * a condition or a set. Cedar tells one entity of a type from another only by comparing it
 * with such a literal, and a record's other attributes (tenant, collection) are its
 * collection's, so a record none of these name is decided as every other of its collection.
 */
export function recordIdsNamed(policies: readonly string[]): ReadonlySet<string> {
  const ids = new Set<string>();
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    const { type, id } = node as { type?: unknown; id?: unknown };
    if (type === RECORD_TYPE && typeof id === 'string') ids.add(id);
    for (const value of Object.values(node)) visit(value);
  };
  for (const policy of policies) {
    const answer = policyToJson(policy);
    if (answer.type !== 'success')
      throw new PalisadeError('PALISADE_INTERNAL', 'a stored policy no longer converts to JSON');
    visit(answer.json);
  }
  return ids;
}

/** A record id that no policy names, standing for every such record. */
export function unnamedRecordId(named: ReadonlySet<string>): string {
  for (let n = 0; ; n++) {
    const id = `00000000-0000-0000-0000-${n.toString(16).padStart(12, '0')}`;
    if (!named.has(id)) return id;
  }
}
