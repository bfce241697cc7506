/**
 * Type-level tests of the protocol. The `expectTypeOf` checks are compile-time: they fail
 * `tsc --noEmit -p tsconfig.json` (the first step of `npm test`; tsconfig.json includes protocol/),
 * not the vitest run, where they are no-ops. Where a check can also be made on values, it is.
 */
import type { types as ms } from 'mediasoup-client';
import type { z } from 'zod';
import { assertType, describe, expect, expectTypeOf, it } from 'vitest';
import {
  connectErrorCode,
  isError,
  type Ack,
  type AckError,
  type AckResult,
  type Audience,
  type ChannelAuth,
  type ChannelBroadcast,
  type ChannelClientToServer,
  type ChannelMediaState,
  type ChannelResults,
  type ChannelServerToClient,
  type ChannelState,
  type ConnectErrorData,
  type ConsumerInfo,
  type ErrorCode,
  type ErrorResult,
  type LobbyClientToServer,
  type LobbyResults,
  type LobbyServerToClient,
  type TransportOptions,
} from './index.js';
import type {
  channelRequestSchemas,
  channelResultSchemas,
  lobbyRequestSchemas,
  lobbyResultSchemas,
} from './schemas.js';

type ProduceResult = { producerId: string };

describe('errors', () => {
  it('has exactly the six error codes', () => {
    expectTypeOf<ErrorCode>().toEqualTypeOf<'not-found' | 'conflict' | 'unauthorized' | 'full' | 'bad-request' | 'internal'>();
    expectTypeOf<AckError>().toEqualTypeOf<{ code: ErrorCode; message: string }>();
    expectTypeOf<ErrorResult>().toEqualTypeOf<{ error: { code: ErrorCode; message: string } }>();
    expectTypeOf<ConnectErrorData>().toEqualTypeOf<{ code: ErrorCode }>();
    // A code that is not one of them is not an ErrorCode.
    expectTypeOf<'timeout'>().not.toExtend<ErrorCode>();
  });

  it('makes an ack result either the result or an error', () => {
    expectTypeOf<AckResult<ProduceResult>>().toEqualTypeOf<ProduceResult | { error: { code: ErrorCode; message: string } }>();
    expectTypeOf<Ack<ProduceResult>>().toEqualTypeOf<(result: ProduceResult | ErrorResult) => void>();
  });

  it('narrows with isError, and tells errors from results at run time', () => {
    const answers: AckResult<ProduceResult>[] = [{ producerId: 'p1' }, { error: { code: 'full', message: 'no room' } }];
    const seen: string[] = [];
    for (const answer of answers) {
      if (isError(answer)) {
        expectTypeOf(answer).toEqualTypeOf<ErrorResult>();
        seen.push(answer.error.code);
      } else {
        expectTypeOf(answer).toEqualTypeOf<ProduceResult>();
        seen.push(answer.producerId);
      }
    }
    expect(seen).toEqual(['p1', 'full']);
    for (const notAnError of [null, undefined, 'error', { error: 'text' }, { error: { message: 'no code' } }, { producerId: 'p' }]) {
      expect(isError(notAnError)).toBe(false);
    }
  });

  it('reads the code of a connect error, and none from a network error', () => {
    expectTypeOf(connectErrorCode).returns.toEqualTypeOf<ErrorCode | undefined>();
    expect(connectErrorCode(Object.assign(new Error('channel not found'), { data: { code: 'not-found' } }))).toBe('not-found');
    expect(connectErrorCode(new Error('websocket error'))).toBeUndefined();
  });
});

describe('results', () => {
  it('derives every result from its zod schema (z.output)', () => {
    type FromChannelSchemas = { [K in keyof typeof channelResultSchemas]: z.output<(typeof channelResultSchemas)[K]> };
    type FromLobbySchemas = { [K in keyof typeof lobbyResultSchemas]: z.output<(typeof lobbyResultSchemas)[K]> };
    expectTypeOf<ChannelResults>().toEqualTypeOf<FromChannelSchemas>();
    expectTypeOf<LobbyResults>().toEqualTypeOf<FromLobbySchemas>();
    expectTypeOf<ChannelResults['produce']>().toEqualTypeOf<z.output<typeof channelResultSchemas.produce>>();
  });

  it('spells out what each result is', () => {
    expectTypeOf<ChannelResults['produce']>().toEqualTypeOf<ProduceResult>();
    expectTypeOf<ChannelResults['connectProducerTransport']>().toEqualTypeOf<{ connected: true }>();
    expectTypeOf<ChannelResults['stopBroadcast']>().toEqualTypeOf<{ stopped: true }>();
    expectTypeOf<ChannelResults['resumeConsumer']>().toEqualTypeOf<{ resumed: true }>();
    expectTypeOf<ChannelResults['consume']>().toEqualTypeOf<{ consumers: ConsumerInfo[]; layers: { spatialLayer: number; height: number | null }[] }>();
    expectTypeOf<ChannelResults['setQuality']>().toEqualTypeOf<{ layer: 'auto' | number }>();
    expectTypeOf<LobbyResults['createChannel']>().toEqualTypeOf<{
      channelId: string;
      publishToken: string;
      streamKey: string;
      origin: string | null;
      ingest: { rtmpPort: number | null; rtmpsPort: number | null; srtPort: number | null };
    }>();
    // What mediasoup-client's Device and Transport take, as the page receives them.
    expectTypeOf<ChannelResults['getRouterRtpCapabilities']>().toEqualTypeOf<{ rtpCapabilities: ms.RtpCapabilities }>();
    expectTypeOf<TransportOptions>().toEqualTypeOf<{
      id: string;
      iceParameters: ms.IceParameters;
      iceCandidates: ms.IceCandidate[];
      dtlsParameters: ms.DtlsParameters;
    }>();
    expectTypeOf<ChannelResults['createConsumerTransport']>().toEqualTypeOf<TransportOptions>();
    expectTypeOf<Omit<ChannelResults['createProducerTransport'], 'simulcast'>>().toEqualTypeOf<TransportOptions>();
    expectTypeOf<ChannelResults['createProducerTransport']['simulcast']>().toEqualTypeOf<boolean>();
    expectTypeOf<ConsumerInfo>().toEqualTypeOf<{ id: string; producerId: string; kind: 'audio' | 'video'; rtpParameters: ms.RtpParameters }>();
  });

  it('has one result per request, and nothing else', () => {
    expectTypeOf<keyof ChannelResults>().toEqualTypeOf<keyof typeof channelRequestSchemas>();
    expectTypeOf<keyof LobbyResults>().toEqualTypeOf<keyof typeof lobbyRequestSchemas>();
  });
});

describe('requests', () => {
  type Produce = ChannelClientToServer['produce'];
  type ProducePayload = Parameters<Produce>[0];

  it('takes produce as (payload { kind, rtpParameters, frameSize? }, ack of AckResult<{ producerId }>)', () => {
    expectTypeOf<Produce>().parameters.toEqualTypeOf<[ProducePayload, Ack<ProduceResult>]>();
    expectTypeOf<Produce>().parameter(1).parameter(0).toEqualTypeOf<AckResult<ProduceResult>>();
    expectTypeOf<ProducePayload>().toHaveProperty('kind').toEqualTypeOf<'audio' | 'video'>();
    expectTypeOf<keyof ProducePayload>().toEqualTypeOf<'kind' | 'rtpParameters' | 'frameSize'>();
    expectTypeOf<ProducePayload['frameSize']>().toEqualTypeOf<{ width: number; height: number } | undefined>();
    // What the page sends is mediasoup-client's own producer.rtpParameters.
    expectTypeOf<ms.RtpParameters>().toExtend<ProducePayload['rtpParameters']>();
    expectTypeOf<{ codecs: { mimeType: string }[] }>().not.toExtend<ProducePayload['rtpParameters']>();
  });

  it('types every request (payload, ack) with the result of the same name', () => {
    type AckOf<E extends keyof ChannelClientToServer> = Parameters<ChannelClientToServer[E]>[1];
    expectTypeOf<AckOf<'createConsumerTransport'>>().toEqualTypeOf<Ack<TransportOptions>>();
    expectTypeOf<AckOf<'consume'>>().toEqualTypeOf<Ack<ChannelResults['consume']>>();
    expectTypeOf<Parameters<LobbyClientToServer['createChannel']>[1]>().toEqualTypeOf<Ack<LobbyResults['createChannel']>>();
    expectTypeOf<keyof ChannelClientToServer>().toEqualTypeOf<keyof typeof channelRequestSchemas>();
    expectTypeOf<keyof LobbyClientToServer>().toEqualTypeOf<keyof typeof lobbyRequestSchemas>();
    expectTypeOf<Parameters<ChannelClientToServer['resumeConsumer']>[0]>().toEqualTypeOf<{ consumerId: string }>();
    expectTypeOf<Parameters<ChannelClientToServer['rotateStreamKey']>[0]>().toEqualTypeOf<{ publishToken: string }>();
    expectTypeOf<AckOf<'rotateStreamKey'>>().toEqualTypeOf<Ack<{ streamKey: string }>>();
    expectTypeOf<Parameters<LobbyClientToServer['createChannel']>[0]>().toEqualTypeOf<{ publishKey?: string | undefined }>();
  });

  it('requires a publish token of a broadcaster and an owner, and nothing of a viewer', () => {
    expectTypeOf<ChannelAuth['role']>().toEqualTypeOf<'viewer' | 'broadcaster' | 'owner'>();
    expectTypeOf<Extract<ChannelAuth, { role: 'owner' }>>().toEqualTypeOf<{ role: 'owner'; publishToken: string }>();
    // @ts-expect-error -- an owner without its token is not a ChannelAuth
    assertType<ChannelAuth>({ role: 'owner' });
    expectTypeOf<Extract<ChannelAuth, { role: 'viewer' }>>().toEqualTypeOf<{ role: 'viewer' }>();
    expectTypeOf<Extract<ChannelAuth, { role: 'broadcaster' }>>().toEqualTypeOf<{ role: 'broadcaster'; publishToken: string; session?: string | undefined }>();
    // @ts-expect-error -- a broadcaster without its token is not a ChannelAuth
    assertType<ChannelAuth>({ role: 'broadcaster' });
  });
});

describe('channel state and events', () => {
  it('puts origin in the state clients see, not in what a channel itself knows', () => {
    expectTypeOf<ChannelState>().toHaveProperty('origin').toEqualTypeOf<string | null>();
    expectTypeOf<ChannelMediaState>().not.toHaveProperty('origin');
    // Otherwise the same: what the channel knows, plus where it is served from.
    expectTypeOf<Omit<ChannelState, 'origin'>>().toEqualTypeOf<ChannelMediaState>();
    expectTypeOf<ChannelState['phase']>().toEqualTypeOf<'waiting' | 'live' | 'ended'>();
  });

  it('pairs each broadcast event with its own payload, as the server emits it', () => {
    expectTypeOf<Extract<ChannelBroadcast, { event: 'viewerCount' }>['args']>().toEqualTypeOf<[Audience]>();
    expectTypeOf<Extract<ChannelBroadcast, { event: 'channelState' }>['args']>().toEqualTypeOf<[ChannelState]>();
    expectTypeOf<Extract<ChannelBroadcast, { event: 'streamEnded' }>['args']>().toEqualTypeOf<[{ reason: string }]>();
    // Every server event can be relayed as a broadcast, with exactly the arguments emit takes.
    type ArgsByEvent = { [E in ChannelBroadcast['event']]: Extract<ChannelBroadcast, { event: E }>['args'] };
    type EmitArgsByEvent = { [E in keyof ChannelServerToClient]: Parameters<ChannelServerToClient[E]> };
    expectTypeOf<ArgsByEvent>().toEqualTypeOf<EmitArgsByEvent>();
    assertType<ChannelBroadcast>({ event: 'viewerCount', args: [{ viewers: 3, realtime: 1 }] });
    // @ts-expect-error -- viewerCount does not take streamEnded’s payload
    assertType<ChannelBroadcast>({ event: 'viewerCount', args: [{ reason: 'ended' }] });
  });

  it('pushes the directory to the lobby as a list of entries', () => {
    expectTypeOf<LobbyServerToClient['directory']>().parameters.toEqualTypeOf<
      [{ channels: { channelId: string; title: string; viewers: number; liveSince: number }[] }]
    >();
  });
});
