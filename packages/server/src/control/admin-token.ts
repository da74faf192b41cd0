import { hashSecretToken, newSecretToken } from '../ids/index.ts';
import type { ControlPlaneStore } from '../store/index.ts';

/**
 * Makes sure a platform-admin token exists. A token from the settings replaces the stored
 * hash (automation owns it); otherwise a first start generates one and returns it so the
 * caller can print it once. Only the hash is ever stored.
 */
export async function ensureAdminToken(
  controlPlane: ControlPlaneStore,
  configured: string | undefined,
): Promise<{ generated: string | undefined }> {
  if (configured !== undefined) {
    await controlPlane.setAdminTokenHash(hashSecretToken(configured));
    return { generated: undefined };
  }
  if ((await controlPlane.getAdminTokenHash()) !== undefined) return { generated: undefined };
  return { generated: await rotateAdminToken(controlPlane) };
}

/** Replaces the platform-admin token; the old one stops working. Returns the new token. */
export async function rotateAdminToken(controlPlane: ControlPlaneStore): Promise<string> {
  const token = newSecretToken('pa');
  await controlPlane.setAdminTokenHash(hashSecretToken(token));
  return token;
}
