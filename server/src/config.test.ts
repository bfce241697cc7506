import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestCertificate } from '../test/helpers/tls.js';
import { loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has safe defaults: loopback only, non-overlapping port ranges', () => {
    const c = loadConfig({});
    expect(c.http.host).toBe('127.0.0.1');
    expect(c.rtc.listenIp).toBe('127.0.0.1');
    expect(c.http.port).toBe(3000);
    expect(c.hls.rtpMaxPort < c.rtc.minPort || c.hls.rtpMinPort > c.rtc.maxPort).toBe(true);
    expect(c.channels.publishKey).toBeUndefined();
  });

  it('reads numbers from strings', () => {
    expect(loadConfig({ PORT: '8080', HLS_SEGMENT_SECONDS: '1' })).toMatchObject({ http: { port: 8080 }, hls: { segmentSeconds: 1 } });
  });

  it('groups settings by the part of the server they configure, with what used to be hard-wired', () => {
    const c = loadConfig({ RTC_INITIAL_BITRATE: '2000000', PRESENCE_INTERVAL_MS: '100' });
    expect(c.rtc.initialBitrate).toBe(2_000_000);
    expect(c.presence.intervalMs).toBe(100);
    expect(Object.keys(c).sort()).toEqual(['channels', 'cluster', 'hls', 'http', 'ingest', 'limits', 'log', 'presence', 'recordings', 'rtc', 'thumbnails']);
  });

  it('records by default, with retention by age and size; RECORDINGS=off records nothing', () => {
    expect(loadConfig({ FFMPEG_PATH: '/opt/ffmpeg' }).recordings).toEqual({ dir: path.resolve('recordings'), maxAgeMs: 30 * 86_400_000, maxBytes: 20_480 * 1024 * 1024, ffmpegPath: '/opt/ffmpeg' });
    expect(loadConfig({ RECORDINGS_DIR: '/srv/rec', RECORDINGS_MAX_AGE_DAYS: '0.5', RECORDINGS_MAX_SIZE_MB: '1.5' }).recordings).toMatchObject({ dir: '/srv/rec', maxAgeMs: 43_200_000, maxBytes: 1_572_864 });
    expect(loadConfig({ RECORDINGS: 'off' }).recordings).toBeNull();
    expect(() => loadConfig({ RECORDINGS: 'yes' })).toThrow(/RECORDINGS/);
    expect(() => loadConfig({ RECORDINGS_MAX_SIZE_MB: '0' })).toThrow(/RECORDINGS_MAX_SIZE_MB/);
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
    [{ SRT_MIN_PORT: '20000', SRT_MAX_PORT: '20010' }, /SRT and HLS_RTP port ranges must not overlap/],
    [{ SRT_MIN_PORT: '9000', SRT_MAX_PORT: '8999' }, /SRT_MIN_PORT must be <= SRT_MAX_PORT/],
  ])('refuses %o with a message naming the problem', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('takes RTMP on 1935 and SRT on a port per channel from 8890 unless turned off with 0', () => {
    expect(loadConfig({}).ingest).toMatchObject({ rtmp: { port: 1935 }, srt: { minPort: 8890, maxPort: 8989 } });
    expect(loadConfig({ RTMP_PORT: '0', SRT_MIN_PORT: '0' }).ingest).toMatchObject({ rtmp: null, srt: null });
  });

  it('runs alone unless REDIS_URL is set', () => {
    expect(loadConfig({}).cluster).toBeNull();
    expect(loadConfig({ REDIS_URL: '' }).cluster).toBeNull();
    expect(loadConfig({ REDIS_URL: 'redis://:secret@10.0.0.5:6379/2', PUBLIC_URL: 'https://a.live.example/' }).cluster).toEqual({
      redisUrl: 'redis://:secret@10.0.0.5:6379/2',
      publicUrl: 'https://a.live.example',
      channelTtlMs: 5000,
    });
  });

  it('treats an empty PUBLISH_KEY as unset', () => {
    expect(loadConfig({ PUBLISH_KEY: '' }).channels.publishKey).toBeUndefined();
  });

  it('has per-client limits by default, and keeps connections below the open-file limit', () => {
    const c = loadConfig({});
    expect(c.limits.trustedProxies).toEqual([]);
    expect(c.limits.channelsPerAddress).toBe(3);
    expect(c.limits.realtimePerAddress).toBeLessThan(c.channels.realtimeViewers);
    const limits = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    expect(c.limits.maxConnections).toBeLessThanOrEqual(Number(limits![1]) - 1000);
  });

  it('reads TRUSTED_PROXIES as addresses and CIDRs, and names a bad entry', () => {
    expect(loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1,fd00::/8' }).limits.trustedProxies).toEqual([
      { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '127.0.0.1', prefix: 32, family: 'ipv4' },
      { address: 'fd00::', prefix: 8, family: 'ipv6' },
    ]);
    expect(() => loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8,lb.internal' })).toThrow('TRUSTED_PROXIES: lb.internal is not an IP address or CIDR');
  });

  it('times slow HTTP clients out after 10 s / 30 s by default and leaves /metrics open unless METRICS_TOKEN is set', () => {
    expect(loadConfig({})).toMatchObject({ http: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 } });
    expect(loadConfig({}).http.metricsToken).toBeUndefined();
    expect(loadConfig({ METRICS_TOKEN: '' }).http.metricsToken).toBeUndefined();
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN must have at least 16 characters/);
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS must be <= HTTP_REQUEST_TIMEOUT_MS/,
    );
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '0' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
  });
});

describe('loadConfig: TLS_CERT / TLS_KEY', () => {
  const cert = makeTestCertificate();
  const other = makeTestCertificate();
  const notPem = path.join(path.dirname(cert.certFile), 'not-pem.txt');
  writeFileSync(notPem, 'hello\n');
  afterAll(() => {
    cert.remove();
    other.remove();
  });

  it('serves plain HTTP without them (empty values count as unset)', () => {
    expect(loadConfig({}).http.tls).toBeNull();
    expect(loadConfig({ TLS_CERT: '', TLS_KEY: '' }).http.tls).toBeNull();
  });

  it('reads both PEM files when both are set', () => {
    const { tls } = loadConfig(cert.env).http;
    expect(tls?.certFile).toBe(cert.certFile);
    expect(tls?.cert.toString()).toBe(cert.cert);
    expect(tls?.key.toString()).toBe(readFileSync(cert.keyFile, 'utf8'));
  });

  it.each([
    ['TLS_CERT alone', () => ({ TLS_CERT: cert.certFile }), /TLS_CERT and TLS_KEY go together/],
    ['TLS_KEY alone', () => ({ TLS_KEY: cert.keyFile }), /TLS_CERT and TLS_KEY go together/],
    ['a missing certificate file', () => ({ ...cert.env, TLS_CERT: '/nonexistent/cert.pem' }), /TLS_CERT: cannot read \/nonexistent\/cert\.pem \(ENOENT\)/],
    ['a missing key file', () => ({ ...cert.env, TLS_KEY: '/nonexistent/key.pem' }), /TLS_KEY: cannot read \/nonexistent\/key\.pem \(ENOENT\)/],
    ['a directory as the certificate', () => ({ ...cert.env, TLS_CERT: path.dirname(cert.certFile) }), /TLS_CERT: cannot read .* \(EISDIR\)/],
    ['a key where the certificate goes', () => ({ TLS_CERT: cert.keyFile, TLS_KEY: cert.keyFile }), /TLS_CERT: .*key\.pem is not a PEM certificate/],
    ['a certificate where the key goes', () => ({ TLS_CERT: cert.certFile, TLS_KEY: cert.certFile }), /TLS_KEY: .*cert\.pem is not an unencrypted PEM private key/],
    ['a file that is no PEM at all', () => ({ TLS_CERT: notPem, TLS_KEY: cert.keyFile }), /TLS_CERT: .*not-pem\.txt is not a PEM certificate/],
    ['the key of another certificate', () => ({ TLS_CERT: cert.certFile, TLS_KEY: other.keyFile }), /TLS_KEY: the private key in TLS_KEY does not belong to the certificate in TLS_CERT/],
    ['an http:// PUBLIC_URL', () => ({ ...cert.env, PUBLIC_URL: 'http://a.live.example' }), /PUBLIC_URL: PUBLIC_URL must be an https:\/\/ URL when TLS_CERT and TLS_KEY are set/],
  ])('refuses %s, naming the variable', (_what, env, message) => {
    expect(() => loadConfig(env())).toThrow(message);
  });
});
