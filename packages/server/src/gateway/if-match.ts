/**
 * Optimistic concurrency over HTTP: a versioned resource's ETag is its version, and `If-Match`
 * names the versions a write may replace (RFC 9110 §8.8.3, §13.1.1).
 */
import type { FastifyRequest } from 'fastify';
import type { Precondition } from '../records/index.ts';

/** One element of an If-Match list (RFC 9110 §5.6.1, §8.8.3): an entity tag, or none, and its comma. */
const IF_MATCH_ELEMENT = /[ \t]*(?:(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*)?(?:,|$)/y;
/** The opaque tag of an ETag this server made: a version. */
const VERSION_TAG = /^[1-9][0-9]{0,14}$/;

/** The strong ETag of a resource at `version`. */
export function versionEtag(version: number): string {
  return `"${version}"`;
}

/**
 * Parses If-Match: `*`, or a list of entity tags of which the strong ones this server made
 * match (RFC 9110 §13.1.1, strong comparison); a header that is not such a list matches nothing.
 */
export function precondition(request: FastifyRequest): Precondition {
  const header = request.headers['if-match'];
  if (header === undefined) return { kind: 'none' };
  if (header.trim() === '*') return { kind: 'any' };
  const versions: number[] = [];
  IF_MATCH_ELEMENT.lastIndex = 0;
  while (IF_MATCH_ELEMENT.lastIndex < header.length) {
    const element = IF_MATCH_ELEMENT.exec(header);
    if (element === null) return { kind: 'versions', versions: [] };
    const [, weak, tag] = element;
    if (weak === undefined && tag !== undefined && VERSION_TAG.test(tag))
      versions.push(Number(tag));
  }
  return { kind: 'versions', versions };
}
