import { randomBytes } from 'node:crypto';
import { hashSecretToken } from '../ids/index.ts';

/**
 * An invitation token: 256 random bits, base64url, carried in the link's path. Only its
 * SHA-256 is stored, so a copy of the store cannot accept anyone's invitation.
 */
export const INVITATION_TOKEN_PATTERN = '^[A-Za-z0-9_-]{43}$';

export function newInvitationToken(): { token: string; tokenHash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, tokenHash: hashSecretToken(token) };
}

export function invitationTokenHash(token: string): string {
  return hashSecretToken(token);
}

/** The page where the invited user sets a password: `/t/{slug}/invite/{token}`. */
export function invitationPath(slug: string, token: string): string {
  return `/t/${slug}/invite/${token}`;
}
