import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has safe defaults: loopback only, non-overlapping port ranges', () => {
    const c = loadConfig({});
    expect(c.HOST).toBe('127.0.0.1');
    expect(c.RTC_LISTEN_IP).toBe('127.0.0.1');
    expect(c.PORT).toBe(3000);
    expect(c.HLS_RTP_MAX_PORT < c.RTC_MIN_PORT || c.HLS_RTP_MIN_PORT > c.RTC_MAX_PORT).toBe(true);
    expect(c.PUBLISH_KEY).toBeUndefined();
  });

  it('reads numbers from strings', () => {
    expect(loadConfig({ PORT: '8080', HLS_SEGMENT_SECONDS: '1' })).toMatchObject({ PORT: 8080, HLS_SEGMENT_SECONDS: 1 });
  });

  it.each([
    [{ PORT: 'abc' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ HLS_RTP_MIN_PORT: '40000', HLS_RTP_MAX_PORT: '40100' }, /must not overlap/],
    [{ HLS_RTP_MIN_PORT: '20000', HLS_RTP_MAX_PORT: '20001' }, /at least 4 ports/],
    [{ PUBLISH_KEY: 'short' }, /PUBLISH_KEY must have at least 8 characters/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ PUBLIC_URL: 'ftp://live.example' }, /PUBLIC_URL/],
    [{ CLUSTER_CHANNEL_TTL_MS: '100' }, /CLUSTER_CHANNEL_TTL_MS/],
    [{ REDIS_URL: 'redis://10.0.0.5:6379', HOST: '0.0.0.0' }, /PUBLIC_URL is required with REDIS_URL/],
  ])('refuses %o with a message naming the problem', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('runs alone unless REDIS_URL is set', () => {
    expect(loadConfig({}).REDIS_URL).toBeUndefined();
    expect(loadConfig({ REDIS_URL: '' }).REDIS_URL).toBeUndefined();
    expect(loadConfig({ REDIS_URL: 'redis://:secret@10.0.0.5:6379/2', PUBLIC_URL: 'https://a.live.example' })).toMatchObject({
      REDIS_URL: 'redis://:secret@10.0.0.5:6379/2',
      PUBLIC_URL: 'https://a.live.example',
      CLUSTER_CHANNEL_TTL_MS: 5000,
    });
  });

  it('treats an empty PUBLISH_KEY as unset', () => {
    expect(loadConfig({ PUBLISH_KEY: '' }).PUBLISH_KEY).toBeUndefined();
  });

  it('times slow HTTP clients out after 10 s / 30 s by default and leaves /metrics open unless METRICS_TOKEN is set', () => {
    expect(loadConfig({})).toMatchObject({ HTTP_HEADERS_TIMEOUT_MS: 10_000, HTTP_REQUEST_TIMEOUT_MS: 30_000 });
    expect(loadConfig({}).METRICS_TOKEN).toBeUndefined();
    expect(loadConfig({ METRICS_TOKEN: '' }).METRICS_TOKEN).toBeUndefined();
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN must have at least 16 characters/);
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS must be <= HTTP_REQUEST_TIMEOUT_MS/,
    );
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '0' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
  });
});
