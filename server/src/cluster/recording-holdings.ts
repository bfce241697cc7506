import type { Logger } from '../logger.js';
import type { RecordingsElsewhere } from '../http/recordings-route.js';
import type { RecordingStore } from '../readers/recording/recording-store.js';
import type { Cluster } from './cluster.js';

/**
 * This instance's recordings in the cluster's shared list, refreshed every heartbeat (a finished
 * broadcast shows up within one), and the whole cluster's list for the HTTP route: listed
 * recordings of every instance with its origin, and a redirect to the instance holding one.
 */
export function shareRecordings(o: { cluster: Cluster; store: RecordingStore | null; origin: string; logger: Logger }): RecordingsElsewhere & { stop(): Promise<void> } {
  const { cluster, store } = o;
  let failing = false;
  const publish = async () => {
    if (!store) return;
    try {
      await cluster.recordings.publish(cluster.instanceId, o.origin, store.list());
      if (failing) o.logger.info('recordings are shared with the cluster again');
      failing = false;
    } catch (error) {
      if (!failing) o.logger.warn({ err: String(error) }, 'cannot share this instance’s recordings with the cluster');
      failing = true;
    }
  };
  void publish();
  const timer = setInterval(() => void publish(), cluster.heartbeatMs);
  timer.unref();
  return {
    listed: () => cluster.recordings.listed(),
    originOf: (recordingId) => cluster.recordings.originOf(recordingId, cluster.instanceId),
    async stop() {
      clearInterval(timer);
      // Its recordings cannot be served while it is down: out of the list now, not after the expiry.
      await cluster.recordings.withdraw(cluster.instanceId).catch(() => undefined);
    },
  };
}
