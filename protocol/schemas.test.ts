import { describe, expect, it } from 'vitest';
import { CHANNEL_ID_PATTERN, CHANNEL_NAMESPACE_PATTERN, channelNamespace } from './index.js';
import { channelAuth } from './schemas.js';

describe('channel auth', () => {
  it('accepts viewers, and broadcasters and owners with a token', () => {
    expect(channelAuth.safeParse({ role: 'viewer' }).success).toBe(true);
    expect(channelAuth.safeParse({ role: 'broadcaster', publishToken: 'secret' }).success).toBe(true);
    expect(channelAuth.safeParse({ role: 'owner', publishToken: 'secret' }).success).toBe(true);
  });

  it('refuses a broadcaster or owner without a token, unknown roles and non-objects', () => {
    for (const auth of [{ role: 'broadcaster' }, { role: 'broadcaster', publishToken: '' }, { role: 'owner' }, { role: 'owner', publishToken: '' }, { role: 'admin' }, 'viewer', null, {}]) {
      expect(channelAuth.safeParse(auth).success).toBe(false);
    }
  });
});

describe('channel ids and namespaces', () => {
  it('round-trips a channel id through its namespace', () => {
    const id = 'AbCdEfGhIjKlMnOpQr_-12';
    expect(CHANNEL_ID_PATTERN.test(id)).toBe(true);
    expect(CHANNEL_NAMESPACE_PATTERN.exec(channelNamespace(id))?.[1]).toBe(id);
  });

  it('rejects ids that could escape a path or are not ours', () => {
    for (const id of ['../../etc', 'short', 'AbCdEfGhIjKlMnOpQr_-12x', 'AbCdEfGhIjKlMnOpQr.-12', '']) {
      expect(CHANNEL_ID_PATTERN.test(id)).toBe(false);
    }
  });
});

describe('channel id generator', () => {
  it('makes ids the pattern accepts, all different', async () => {
    const { newChannelId } = await import('./ids.js');
    const ids = new Set(Array.from({ length: 1000 }, () => newChannelId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(CHANNEL_ID_PATTERN.test(id)).toBe(true);
  });
});
