import { generateKeyPairSync } from 'node:crypto';
import type { TestApi } from './api.ts';

function publicKeys(): { ed25519: string; mldsa65: string } {
  const spki = (type: 'ed25519' | 'ml-dsa-65') =>
    generateKeyPairSync(type as 'ed25519')
      .publicKey.export({ format: 'der', type: 'spki' })
      .toString('base64');
  return { ed25519: spki('ed25519'), mldsa65: spki('ml-dsa-65') };
}

/** An edge node of the tenant holding `key`, enrolled with fresh keys: its id and credential. */
export async function enrolledNode(api: TestApi, key: string, name: string) {
  const token = await api.call('POST', '/v1/edge-nodes/enrollment-tokens', key, { name });
  const node = await api.call('POST', '/v1/edge/enroll', undefined, {
    token: token.body.token,
    ...publicKeys(),
  });
  return { id: node.body.nodeId as string, credential: node.body.credential as string };
}
