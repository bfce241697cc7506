import { isSameProfile } from 'h264-profile-level-id';
import type { types } from 'mediasoup';
import { ChannelError } from '../../channel/channel-error.js';

/**
 * mediasoup 3.15 sends every consumer with its router's payload types (versatica/mediasoup#1126),
 * while a WHEP player, being the offerer, decodes only under the payload types of its own offer.
 * When they differ, the player's tracks are carried by a router built with the player's payload
 * types (an "egress" router); this plans it.
 */
export interface EgressPlan {
  /** Whether the channel router's payload types already are the player's. */
  same: boolean;
  /** Identifies the layout: players with the same one share an egress router. */
  key: string;
  /** The media codecs of an egress router sending each track under the player's payload type. */
  mediaCodecs: types.RtpCodecCapability[];
}

const isRtx = (mimeType: string) => /\/rtx$/i.test(mimeType);

/** Whether the player's capability `cap` decodes what is sent as `codec` (RFC 6184 profile rules for H264). */
function decodes(cap: types.RtpCodecCapability, codec: types.RtpCodecParameters): boolean {
  if (cap.mimeType.toLowerCase() !== codec.mimeType.toLowerCase() || cap.clockRate !== codec.clockRate) return false;
  if (cap.kind === 'audio' && (cap.channels ?? 1) !== (codec.channels ?? 1)) return false;
  if (codec.mimeType.toLowerCase() === 'video/h264') {
    const capParams = cap.parameters ?? {};
    const params = codec.parameters ?? {};
    if (Number(capParams['packetization-mode'] ?? 0) !== Number(params['packetization-mode'] ?? 0)) return false;
    return isSameProfile(capParams, params);
  }
  return true;
}

/**
 * The plan for a player with capabilities `player` to receive `tracks` (each given by the codec
 * the channel router sends it with). Throws a conflict when the player decodes none of a track's codec.
 */
export function planEgress(tracks: readonly types.RtpCodecParameters[], player: types.RtpCapabilities): EgressPlan {
  const mediaCodecs: types.RtpCodecCapability[] = [];
  let same = true;
  for (const codec of tracks) {
    const kind = codec.mimeType.toLowerCase().startsWith('audio/') ? 'audio' : 'video';
    const cap = (player.codecs ?? []).find((c) => c.kind === kind && decodes(c, codec));
    if (!cap?.preferredPayloadType) throw new ChannelError('conflict', `this player cannot decode the channel’s ${kind} (${codec.mimeType})`);
    if (cap.preferredPayloadType !== codec.payloadType) same = false;
    mediaCodecs.push({
      kind,
      mimeType: codec.mimeType,
      clockRate: codec.clockRate,
      ...(codec.channels ? { channels: codec.channels } : {}),
      parameters: { ...codec.parameters },
      preferredPayloadType: cap.preferredPayloadType,
    });
  }
  const key = mediaCodecs.map((c) => `${c.mimeType}/${c.clockRate}/${c.channels ?? ''}=${c.preferredPayloadType}`).join(',');
  return { same, key, mediaCodecs };
}

/**
 * The player's capabilities without RTX unless the router sends RTX under the player's payload
 * type for it: mediasoup picks the router's RTX payload type itself, and retransmissions under a
 * type the player does not expect would be dropped (without RTX, lost packets are resent as they were).
 */
export function withMatchingRtx(player: types.RtpCapabilities, router: types.RtpCapabilities): types.RtpCapabilities {
  const routerRtx = (router.codecs ?? []).filter((c) => isRtx(c.mimeType));
  return {
    ...player,
    codecs: (player.codecs ?? []).filter(
      (c) => !isRtx(c.mimeType) || routerRtx.some((r) => r.preferredPayloadType === c.preferredPayloadType && Number(r.parameters?.apt) === Number(c.parameters?.apt)),
    ),
  };
}
