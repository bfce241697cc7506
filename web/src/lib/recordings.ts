import { atOrigin, recordingDownloadPath, recordingPath, recordingPlaylistPath, recordingThumbnailPath, RECORDINGS_PATH, type RecordingEntry, type RecordingList } from '$protocol';

/** A recording and the absolute URLs of its files, at the instance that holds it. */
export interface Replay {
  entry: RecordingEntry;
  playlist: string;
  download: string;
  thumbnail: string | null;
}

/** Where a recording's files are: its `origin` (cluster: the instance that holds it), else `base`. */
function urlsOf(entry: RecordingEntry, base: string): Replay {
  const origin = entry.origin ?? base;
  const at = (path: string) => new URL(path, origin).href;
  return {
    entry,
    playlist: at(recordingPlaylistPath(entry.recordingId)),
    download: at(recordingDownloadPath(entry.recordingId)),
    thumbnail: entry.hasThumbnail ? at(recordingThumbnailPath(entry.recordingId)) : null,
  };
}

/**
 * A broadcast's recording, or null when there is none. In a cluster the page's own server answers
 * with a redirect to the instance that holds it; the answer's final URL is where its files are.
 */
export async function findRecording(recordingId: string): Promise<Replay | null> {
  const response = await fetch(recordingPath(recordingId), { cache: 'no-store' });
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`the recording could not be looked up (${response.status})`);
  return urlsOf((await response.json()) as RecordingEntry, response.url);
}

/** The listed recordings (the whole cluster's), newest first. */
export async function recentRecordings(): Promise<Replay[]> {
  const response = await fetch(RECORDINGS_PATH, { cache: 'no-store' });
  if (!response.ok) throw new Error(`recent broadcasts are unavailable (${response.status})`);
  const { recordings } = (await response.json()) as RecordingList;
  return recordings.map((entry) => urlsOf(entry, location.origin));
}

/** The broadcaster's requests, with the broadcast's publish token; the server's reason on refusal. */
async function asOwner(recordingId: string, publishToken: string, origin: string | null, init: RequestInit): Promise<Response> {
  // Straight to the instance that holds it: a redirect across origins would drop the token.
  const response = await fetch(atOrigin(origin, recordingPath(recordingId)), { ...init, headers: { ...init.headers, Authorization: `Bearer ${publishToken}` } });
  if (!response.ok) throw new Error((await response.text()).trim() || `refused (${response.status})`);
  return response;
}

/** `origin`: the instance that carried the broadcast (null: the page's own server). */
export async function deleteRecording(recordingId: string, publishToken: string, origin: string | null): Promise<void> {
  await asOwner(recordingId, publishToken, origin, { method: 'DELETE' });
}

export async function setRecordingListed(recordingId: string, publishToken: string, origin: string | null, listed: boolean): Promise<RecordingEntry> {
  const response = await asOwner(recordingId, publishToken, origin, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ listed }) });
  return (await response.json()) as RecordingEntry;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${String(m).padStart(2, '0')} min` : m ? `${m} min ${String(s % 60).padStart(2, '0')} s` : `${s} s`;
}
