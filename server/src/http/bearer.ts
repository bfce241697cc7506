import { sameSecret } from '../secrets.js';

/** Whether an Authorization header carries `Bearer <token>` (scheme case-insensitive, RFC 7235). */
export function hasBearerToken(authorization: string | undefined, token: string): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  return match !== null && sameSecret(match[1]!, token);
}
