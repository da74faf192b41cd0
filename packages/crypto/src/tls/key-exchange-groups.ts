/**
 * The TLS key-exchange groups Palisade's listeners (the platform's HTTPS and MQTTS, an edge
 * node's MQTTS) prefer: the hybrid post-quantum X25519MLKEM768 (ML-KEM-768 + X25519, as
 * browsers and OpenSSL 3.5 offer it), falling back to X25519; on a runtime whose OpenSSL lacks
 * the hybrid, X25519 alone.
 */
import { createSecureContext } from 'node:tls';

/** The hybrid post-quantum group, preferred when the runtime offers it. */
export const HYBRID_GROUP = 'X25519MLKEM768';

/** The groups this runtime's OpenSSL accepts, in preference order (an OpenSSL `ecdhCurve` list). */
export function serverGroups(): string[] {
  try {
    createSecureContext({ ecdhCurve: `${HYBRID_GROUP}:X25519` });
    return [HYBRID_GROUP, 'X25519'];
  } catch {
    return ['X25519'];
  }
}
