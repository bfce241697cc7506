/**
 * Channel ids and every name built from one: the Socket.IO namespace, the HLS URLs and the file
 * names FFmpeg writes. One module, so that the pattern that validates an id, the generator that
 * makes one and every path that embeds one cannot drift apart. Browser-safe (Web Crypto).
 */

const ID_CHARS = '[A-Za-z0-9_-]{22}';

/** Unguessable, URL-safe: 128 random bits as base64url (22 chars). */
export const CHANNEL_ID_PATTERN = new RegExp(`^${ID_CHARS}$`);

export function newChannelId(): string {
  return randomBase64Url(16);
}

/** Secrets (publish tokens): `bytes` random bytes as base64url. */
export function randomBase64Url(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  let binary = '';
  for (const byte of raw) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// ---------------------------------------------------------------- Socket.IO

export const CHANNEL_NAMESPACE_PATTERN = new RegExp(`^/channel/(${ID_CHARS})$`);
export const channelNamespace = (channelId: string): string => `/channel/${channelId}`;
export const channelIdOfNamespace = (name: string): string | undefined => CHANNEL_NAMESPACE_PATTERN.exec(name)?.[1];

// ---------------------------------------------------------------- HLS

export const HLS_PLAYLIST_FILE = 'index.m3u8';

export const hlsPlaylistPath = (channelId: string): string => `/hls/${channelId}/${HLS_PLAYLIST_FILE}`;

/**
 * The URL path of a channel's HLS file: the playlist, an init segment (`init_N.mp4`), a segment
 * (`seg_N.m4s`) or a partial segment (`part_N.m4s`, numbered across segments); a query is allowed.
 * A channel with several renditions (simulcast layers) serves each under `v<layer>/`, and its
 * own index.m3u8 is then the multivariant playlist.
 */
const HLS_PATH = new RegExp(`^/hls/(${ID_CHARS})/(?:(v\\d)/)?(index\\.m3u8|init_\\d{1,5}\\.mp4|seg_\\d{1,10}\\.m4s|part_\\d{1,12}\\.m4s)(?:\\?.*)?$`);

export interface HlsFileRequest {
  channelId: string;
  /** The rendition's name (`v0` …), or null for the channel's own files. */
  rendition: string | null;
  file: string;
  isPlaylist: boolean;
}

/** Matched on the raw URL: no `..`, no percent-encoding, nothing but these file kinds. */
export function parseHlsPath(url: string): HlsFileRequest | null {
  const match = HLS_PATH.exec(url);
  if (!match) return null;
  return { channelId: match[1]!, rendition: match[2] ?? null, file: match[3]!, isPlaylist: match[3] === HLS_PLAYLIST_FILE };
}

// ---------------------------------------------------------------- WHIP (RFC 9725)

/** The channel's WHIP endpoint an encoder POSTs its offer to (with the stream key as bearer token). */
export const whipEndpointPath = (channelId: string): string => `/whip/${channelId}`;
/** A WHIP session's URL (the Location of the 201): DELETE on it ends the broadcast. */
export const whipSessionPath = (channelId: string, sessionId: string): string => `/whip/${channelId}/${sessionId}`;

// ---------------------------------------------------------------- WHEP (draft-ietf-wish-whep)

/** The channel's WHEP endpoint a player POSTs its offer to (no token: viewing is public, as HLS is). */
export const whepEndpointPath = (channelId: string): string => `/whep/${channelId}`;
/** A WHEP session's URL (the Location of the 201): DELETE on it ends the playback. */
export const whepSessionPath = (channelId: string, sessionId: string): string => `/whep/${channelId}/${sessionId}`;

const sessionPathPattern = (prefix: string) => new RegExp(`^/${prefix}/(${ID_CHARS})(?:/(${ID_CHARS}))?$`);
const WHIP_PATH = sessionPathPattern('whip');
const WHEP_PATH = sessionPathPattern('whep');

function parseSessionPath(pattern: RegExp, url: string): { channelId: string; sessionId?: string } | null {
  const match = pattern.exec(url);
  if (!match) return null;
  return match[2] ? { channelId: match[1]!, sessionId: match[2] } : { channelId: match[1]! };
}

/** `/whip/<id>` or `/whip/<id>/<session>`, matched on the raw URL (no query, no encoding). */
export const parseWhipPath = (url: string) => parseSessionPath(WHIP_PATH, url);
/** `/whep/<id>` or `/whep/<id>/<session>`, matched on the raw URL (no query, no encoding). */
export const parseWhepPath = (url: string) => parseSessionPath(WHEP_PATH, url);

/** A live channel's preview picture (JPEG), renewed every few seconds. */
export const thumbnailPath = (channelId: string): string => `/thumbnails/${channelId}.jpg`;
const THUMBNAIL_PATH = new RegExp(`^/thumbnails/(${ID_CHARS})\\.jpg(?:\\?.*)?$`);
/** The channel whose preview picture `url` asks for, or null. */
export const channelIdOfThumbnailPath = (url: string): string | null => THUMBNAIL_PATH.exec(url)?.[1] ?? null;

// ---------------------------------------------------------------- recordings (replay, DVR, download)

/**
 * A broadcast's recording has its channel's id: one channel carries one broadcast, so
 * `/watch/<id>` and `/recordings/<id>/…` name the same thing live and afterwards.
 */
export const RECORDINGS_PATH = '/recordings';
export const recordingPath = (recordingId: string): string => `${RECORDINGS_PATH}/${recordingId}`;
/** VOD playlist once ended (EVENT while the broadcast is live: the DVR window is the whole recording). */
export const recordingPlaylistPath = (recordingId: string): string => `${recordingPath(recordingId)}/${HLS_PLAYLIST_FILE}`;
/** One MP4 of the whole broadcast (remuxed, not re-encoded), made on the first request and kept. */
export const recordingDownloadPath = (recordingId: string): string => `${recordingPath(recordingId)}/download.mp4`;
/** The last live preview picture of the broadcast. */
export const recordingThumbnailPath = (recordingId: string): string => `${recordingPath(recordingId)}/thumbnail.jpg`;

export type RecordingRequest =
  | { kind: 'list' }
  | { kind: 'recording'; recordingId: string }
  | { kind: 'file'; recordingId: string; file: string };

/** Files of a recording a client may ask for: its playlist, init segments, segments, picture, download. */
const RECORDING_FILE = /^(index\.m3u8|init_\d{1,5}\.mp4|seg_\d{1,10}\.m4s|thumbnail\.jpg|download\.mp4)$/;
const RECORDING_URL = new RegExp(`^/recordings(?:/(${ID_CHARS})(?:/([^/?]+))?)?/?(?:\\?.*)?$`);

/** Matched on the raw URL (no `..`, no percent-encoding): null for anything that is not a recording's resource. */
export function parseRecordingPath(url: string): RecordingRequest | null {
  const match = RECORDING_URL.exec(url);
  if (!match) return null;
  const [, recordingId, file] = match;
  if (!recordingId) return { kind: 'list' };
  if (file === undefined) return { kind: 'recording', recordingId };
  return RECORDING_FILE.test(file) ? { kind: 'file', recordingId, file } : null;
}
