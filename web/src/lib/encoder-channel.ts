import { whipEndpointPath, type LobbyResults } from '$protocol';
import { connected, connectLobby, request } from './signalling';

export interface EncoderChannel {
  channelId: string;
  /** Where an encoder (OBS 30+, any WHIP client) POSTs its offer. */
  whipUrl: string;
  /** The bearer token for that URL; separate from the page's publish token. */
  streamKey: string;
  watchUrl: string;
}

/**
 * A channel for an encoder instead of this page's camera: created like any channel, but nobody
 * publishes from the page, so its WHIP URL and stream key can be given to OBS. The channel waits
 * for the encoder (CHANNEL_IDLE_TIMEOUT_MS, a minute by default) and goes live by itself.
 */
export async function createEncoderChannel(publishKey?: string): Promise<EncoderChannel> {
  const lobby = connectLobby();
  let channel: LobbyResults['createChannel'];
  try {
    await connected(lobby);
    channel = await request(lobby, 'createChannel', publishKey ? { publishKey } : {});
  } finally {
    lobby.disconnect();
  }
  // In a cluster the channel lives on the instance that created it: the encoder must go there.
  const origin = channel.origin ?? location.origin;
  return {
    channelId: channel.channelId,
    whipUrl: new URL(whipEndpointPath(channel.channelId), origin).href,
    streamKey: channel.streamKey,
    watchUrl: `${location.origin}/watch/${channel.channelId}`,
  };
}
