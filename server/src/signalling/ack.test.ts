import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ChannelResults } from '../../../protocol/index.js';
import { channelRequestSchemas } from '../../../protocol/schemas.js';
import { requestHandlers, type RequestSocket } from './ack.js';
import { ChannelError } from '../channel/channel-error.js';

const logger = pino({ level: 'silent' });

/** A stand-in socket: what a client sends is delivered with emitter.emit(event, ...args). */
function fakeSocket() {
  const emitter = new EventEmitter();
  const socket: RequestSocket = {
    id: 'socket-1',
    conn: {},
    onAny: (listener) => {
      const emit = emitter.emit.bind(emitter);
      emitter.emit = (event, ...args) => {
        listener(event, ...args);
        return emit(event, ...args);
      };
    },
  };
  const on = requestHandlers<typeof channelRequestSchemas, ChannelResults>(channelRequestSchemas, socket, logger);
  const call = (event: string, ...args: unknown[]) =>
    new Promise<unknown>((resolve) => {
      emitter.emit(event, ...args, resolve);
    });
  return { on, call, emitter };
}

const dtlsParameters = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD' }] };

describe('requestHandlers', () => {
  it('passes a valid payload to the handler and acks its result', async () => {
    const { on, call } = fakeSocket();
    let received: unknown;
    on('connectProducerTransport', (payload) => {
      received = payload;
      return { connected: true };
    });
    expect(await call('connectProducerTransport', { dtlsParameters })).toEqual({ connected: true });
    expect(received).toEqual({ dtlsParameters });
  });

  it.each([
    ['a string', 'hello', /invalid connectProducerTransport request/],
    ['a number', 42, /invalid connectProducerTransport request/],
    ['an array', [1, 2], /invalid connectProducerTransport request/],
    ['a missing field', {}, /at dtlsParameters/],
    ['a wrong fingerprint algorithm', { dtlsParameters: { fingerprints: [{ algorithm: 'md5', value: 'x' }] } }, /at dtlsParameters\.fingerprints\.0\.algorithm/],
    ['an unknown extra field', { dtlsParameters, admin: true }, /invalid connectProducerTransport request/],
    ['an oversized field', { dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'x'.repeat(10_000) }] } }, /at dtlsParameters\.fingerprints\.0\.value/],
  ])('answers %s with an error ack and never calls the handler', async (_, payload, message) => {
    const { on, call } = fakeSocket();
    let called = false;
    on('connectProducerTransport', () => {
      called = true;
      return { connected: true };
    });
    const result = (await call('connectProducerTransport', payload)) as { error: { code: string; message: string } };
    expect(result.error.code).toBe('bad-request');
    expect(result.error.message).toMatch(message);
    expect(called).toBe(false);
  });

  it('checks produce payloads: kind must be audio or video, rtpParameters need codecs', async () => {
    const { on, call } = fakeSocket();
    on('produce', () => ({ producerId: 'p' }));
    expect(await call('produce', { kind: 'data', rtpParameters: { codecs: [] } })).toMatchObject({ error: { code: 'bad-request', message: expect.stringMatching(/at kind/) } });
    expect(await call('produce', { kind: 'video', rtpParameters: { codecs: [] } })).toMatchObject({
      error: { code: 'bad-request', message: expect.stringMatching(/at rtpParameters\.codecs/) },
    });
    expect(
      await call('produce', { kind: 'video', rtpParameters: { codecs: [{ mimeType: 'video/H264', payloadType: 102, clockRate: 90000 }] } }),
    ).toEqual({ producerId: 'p' });
  });

  it('accepts an event sent with only an ack callback when the payload is empty', async () => {
    const { on, emitter } = fakeSocket();
    on('getRouterRtpCapabilities', () => ({ rtpCapabilities: { codecs: [] } }));
    const result = await new Promise((resolve) => emitter.emit('getRouterRtpCapabilities', resolve));
    expect(result).toEqual({ rtpCapabilities: { codecs: [] } });
  });

  it('turns a refusal, thrown or rejected, into { error: { code, message } }', async () => {
    const { on, call } = fakeSocket();
    on('createProducerTransport', () => {
      throw new ChannelError('conflict', 'the producer transport already exists');
    });
    on('stopBroadcast', async () => Promise.reject(new ChannelError('unauthorized', 'only the channel’s broadcaster can publish')));
    expect(await call('createProducerTransport', {})).toEqual({ error: { code: 'conflict', message: 'the producer transport already exists' } });
    expect(await call('stopBroadcast', {})).toEqual({ error: { code: 'unauthorized', message: 'only the channel’s broadcaster can publish' } });
  });

  it('reports any other failure as internal, without its text (it stays in the log)', async () => {
    const { on, call } = fakeSocket();
    on('createProducerTransport', () => {
      throw new Error('Channel request handler with ID 7f3a not found [method:transport.connect] at /opt/redis:6379');
    });
    const result = (await call('createProducerTransport', {})) as { error: { code: string; message: string } };
    expect(result.error.code).toBe('internal');
    expect(result.error.message).not.toMatch(/7f3a|redis|transport\.connect/);
  });

  it('drops events nobody handles (no ack: an unknown event is not a request)', async () => {
    const { on, emitter } = fakeSocket();
    on('stopBroadcast', () => ({ stopped: true }));
    let answered = false;
    emitter.emit('noSuchEvent', {}, () => (answered = true));
    await new Promise((r) => setImmediate(r));
    expect(answered).toBe(false);
  });

  it('tolerates a missing ack callback and an ack that throws', async () => {
    const { on, emitter } = fakeSocket();
    let calls = 0;
    on('stopBroadcast', () => {
      calls++;
      return { stopped: true };
    });
    expect(() => emitter.emit('stopBroadcast', {})).not.toThrow();
    expect(() => emitter.emit('stopBroadcast', {}, () => { throw new Error('client bug'); })).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(calls).toBe(2);
  });
});
