/**
 * Ends a channel nobody publishes to, unless its owner is holding it: an owner's page that is
 * connected (the go-live encoder panel) suspends the timeout, because setting up an encoder such as
 * OBS can take longer than the timeout, and the owner's page is proof that someone is still at it.
 * When the last holder leaves, the full timeout starts again. Once media flows (or the channel
 * ends) the timer is stopped for good: from then on the source watch decides.
 */
export class IdleTimer {
  private timer: NodeJS.Timeout | null = null;
  private readonly holders = new Set<string>();
  private stopped = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly onIdle: () => void,
  ) {
    this.arm();
  }

  /** Whether the timeout is running now. */
  get running(): boolean {
    return this.timer !== null;
  }

  /** Suspends the timeout while `holderId` holds the channel. */
  hold(holderId: string): void {
    if (this.stopped) return;
    this.holders.add(holderId);
    this.disarm();
  }

  /** `holderId` left; the timeout starts over once nobody holds the channel. Unknown ids are ignored. */
  release(holderId: string): void {
    if (!this.holders.delete(holderId) || this.stopped || this.holders.size > 0) return;
    this.arm();
  }

  /** Media arrived or the channel ended: the timer never runs again. */
  stop(): void {
    this.stopped = true;
    this.holders.clear();
    this.disarm();
  }

  private arm(): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.stopped = true;
      this.onIdle();
    }, this.timeoutMs);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
