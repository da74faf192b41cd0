import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { canonicalJson } from '@palisade/ledger';
import type { TestApi } from './api.ts';

/** An enrolled edge node holding its private keys, to sign batches as the node does. */
export interface SigningNode {
  readonly nodeId: string;
  readonly credential: string;
  readonly ed: KeyObject;
  readonly ml: KeyObject;
}

/** An edge node of the tenant holding `key`, enrolled with fresh keys it keeps. */
export async function signingNode(api: TestApi, key: string, name = 'gw'): Promise<SigningNode> {
  const token = await api.call('POST', '/v1/edge-nodes/enrollment-tokens', key, { name });
  const ed = generateKeyPairSync('ed25519');
  const ml = generateKeyPairSync('ml-dsa-65' as 'ed25519');
  const spki = (k: KeyObject) => k.export({ format: 'der', type: 'spki' }).toString('base64');
  const reply = await api.call('POST', '/v1/edge/enroll', undefined, {
    token: token.body.token,
    ed25519: spki(ed.publicKey),
    mldsa65: spki(ml.publicKey),
  });
  return { ...reply.body, ed: ed.privateKey, ml: ml.privateKey };
}

/** An edge node of the tenant holding `key`, enrolled with fresh keys: its id and credential. */
export async function enrolledNode(api: TestApi, key: string, name: string) {
  const node = await signingNode(api, key, name);
  return { id: node.nodeId, credential: node.credential };
}

/**
 * A batch of `messages` from the node, signed with both keys of `signer` (the node's own),
 * with the node's sequence number `seq` when given.
 */
export function signedBatch(
  node: SigningNode,
  batchId: string,
  messages: unknown[],
  signer: Pick<SigningNode, 'ed' | 'ml'> = node,
  seq?: number,
) {
  const content = {
    nodeId: node.nodeId,
    batchId,
    createdAt: '2026-01-01T00:00:00.000Z',
    ...(seq === undefined ? {} : { seq }),
    messages,
  };
  const bytes = Buffer.from(canonicalJson(content), 'utf8');
  return {
    ...content,
    signatures: {
      ed25519: sign(null, bytes, signer.ed).toString('base64'),
      mldsa65: sign(null, bytes, signer.ml).toString('base64'),
    },
  };
}
