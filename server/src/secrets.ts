import { timingSafeEqual } from 'node:crypto';
import { randomBase64Url } from '../../protocol/ids.js';

/** Compares a secret in constant time, so timing does not reveal how much of it was right. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** 192 random bits: the broadcaster's secret. */
export const newPublishToken = (): string => randomBase64Url(24);

/**
 * 192 random bits: the encoders' (WHIP) bearer token, separate from the publish token so it can be
 * given to OBS alone. One generator for the lobby's first key and every rotated one.
 */
export const newStreamKey = (): string => randomBase64Url(24);
