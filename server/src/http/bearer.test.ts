import { describe, expect, it } from 'vitest';
import { hasBearerToken } from './bearer.js';

const token = 'a-long-metrics-token-0123456789';

describe('hasBearerToken', () => {
  it('accepts the token after the Bearer scheme, whatever the scheme’s case', () => {
    expect(hasBearerToken(`Bearer ${token}`, token)).toBe(true);
    expect(hasBearerToken(`bearer ${token}`, token)).toBe(true);
  });

  it.each([
    undefined,
    '',
    token,
    `Basic ${token}`,
    `Bearer ${token}x`,
    `Bearer ${token.slice(0, -1)}`,
    `Bearer ${token} extra`,
    'Bearer ',
  ])('refuses %j', (header) => {
    expect(hasBearerToken(header, token)).toBe(false);
  });
});
