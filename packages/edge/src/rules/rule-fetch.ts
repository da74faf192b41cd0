import { callPlatform } from '../platform-call.ts';
import type { NodeIdentity } from '../sync.ts';
import { parseRuleBook } from './parse-rules.ts';
import type { RuleBook } from './rule-types.ts';

/**
 * Asks the platform for the node's rule book (`GET /v1/edge/rules` with the node credential);
 * undefined when the platform says the node already holds `revision` (304).
 */
export async function fetchRuleBook(
  node: NodeIdentity,
  revision: string,
  timeoutMs?: number,
  signal?: AbortSignal,
): Promise<RuleBook | undefined> {
  const answer = await callPlatform(node, 'GET', '/v1/edge/rules', {
    headers: revision === '' ? {} : { 'if-none-match': `"${revision}"` },
    timeoutMs,
    ...(signal === undefined ? {} : { signal }),
  });
  if (answer.status === 304) return undefined;
  return parseRuleBook(JSON.parse(answer.text));
}
