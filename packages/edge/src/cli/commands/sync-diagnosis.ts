import { PlatformRefusedError } from '../../platform-call.ts';
import { BatchMayBeAppliedError } from '../../sync.ts';

/** A failed sync as the JSON log tells it: its kind (the log event), what to do, and why. */
export interface Diagnosis {
  readonly kind: string;
  readonly action: string;
  readonly message: string;
  /** The platform's error code, when it answered with one. */
  readonly code?: string;
}

const KEPT = 'the outbox keeps every message meanwhile, and the node tries again with back-off';

/**
 * What the platform's refusal of the node itself (401, 403: every batch would meet it) asks
 * of the operator, by the platform's code.
 */
function nodeRefused(code: string | undefined, nodeId: string, dir: string): string {
  switch (code) {
    case 'PALISADE_EDGE_NODE_DISABLED':
      return `the node is disabled on the platform: enable it with PATCH /v1/edge-nodes/${nodeId} {"disabled": false} (edge:write); ${KEPT}`;
    case 'PALISADE_TENANT_SUSPENDED':
      return `the node's tenant is suspended: ask the platform admin to resume it; ${KEPT}`;
    case 'PALISADE_EDGE_UNAUTHENTICATED':
      return `the platform no longer knows this node's credential (the node was re-keyed, or its tenant deleted): stop the agent, run palisade-edge enroll --rekey --token TOKEN --dir ${dir} with the token POST /v1/edge-nodes/${nodeId}/rekey returned (it keeps the outbox), and start it again; ${KEPT}`;
    case 'PALISADE_EDGE_SIGNATURE_INVALID':
      return `the platform holds other public keys for this node than ${dir}/node.json (restored from another enrollment, or tampered with?): check GET /v1/edge-nodes/${nodeId}/alerts, then re-key the node (POST /v1/edge-nodes/${nodeId}/rekey) and run palisade-edge enroll --rekey --token TOKEN --dir ${dir}; ${KEPT}`;
    default:
      return `the platform refuses this node's calls: check the node on the platform (GET /v1/edge-nodes) and ${dir}/node.json; ${KEPT}`;
  }
}

/** What an operator should do about a failed sync, by kind of failure. */
export function diagnose(
  error: unknown,
  node: { url: string; nodeId: string },
  dir: string,
  outbox: string,
): Diagnosis {
  const message = (error as Error).message;
  if ((error as { code?: string }).code === 'ERR_SQLITE_ERROR')
    return {
      kind: 'disk-error',
      action: `the outbox ${outbox} cannot be read or written (disk full, read-only or failing?): free space or fix the disk; messages already on disk stay there and are sent once it works`,
      message,
    };
  if (!(error instanceof PlatformRefusedError))
    return {
      kind: 'link-down',
      action: `cannot sync with ${node.url}: check the network, DNS, firewall and that the platform runs. Nothing is lost: messages stay in the outbox and are sent exactly once when the link is back`,
      message,
    };
  const code = error.problem?.code;
  const refused = { message, ...(code === undefined ? {} : { code }) };
  if (error.status === 429)
    return {
      kind: 'platform-throttled',
      action:
        "the tenant is over its plan's telemetry rate: the node waits the platform's Retry-After and resends the same batch, so nothing is lost; raise the plan's quota if the backlog keeps growing",
      ...refused,
    };
  if (error instanceof BatchMayBeAppliedError)
    return {
      kind: 'batch-too-large',
      action: `the platform's bodyLimit (or a proxy's) now refuses batch ${error.batchId}, which an earlier send may already have applied, its answer lost: forming it again smaller could apply its messages twice, so the node resends it as it is. Raise the limit above ${error.bytes} bytes; nothing is lost meanwhile`,
      ...refused,
    };
  if (error.status === 413)
    return {
      kind: 'batch-too-large',
      action:
        "the platform's bodyLimit refused the batch unread: the node forms its batches again at half the size and resends them in order, so nothing is lost; a single message over the limit stays until bodyLimit is raised",
      ...refused,
    };
  if (code === 'PALISADE_EDGE_NODE_CLONED')
    return {
      kind: 'node-cloned',
      action: `another machine runs a copy of ${dir} (copied, or restored from a backup) and had a batch applied under this batch's sequence number first, so the platform refuses this copy (alert node-cloned, GET /v1/edge-nodes/${node.nodeId}/alerts) rather than apply what both copies hold twice. Stop the copy that should not run. To keep this one instead: stop the other, re-key the node (POST /v1/edge-nodes/${node.nodeId}/rekey) and run palisade-edge enroll --rekey --token TOKEN --dir ${dir} here, which starts a new count; what both copies held when the directory was copied is then applied again. ${KEPT}`,
      ...refused,
    };
  if ((error.status === 401 || error.status === 403) && code !== undefined)
    return { kind: 'node-refused', action: nodeRefused(code, node.nodeId, dir), ...refused };
  if (error.status >= 500)
    return {
      kind: 'link-down',
      action: `the platform at ${node.url} fails (${error.status}): check its health and logs; ${KEPT}`,
      ...refused,
    };
  return {
    kind: 'platform-refused',
    action: `${node.url} refuses this node's batches as a whole, not their content (${error.status}${code === undefined ? ', not an answer of the platform: a proxy?' : ''}): check that the node's url reaches the platform, through any proxy, and that the node's and the platform's versions match; ${KEPT}`,
    ...refused,
  };
}
