/**
 * Publishes a changing number at most once per interval: a burst of joins and leaves becomes a
 * single update carrying the latest value, and no update is sent when the value ends up unchanged.
 */
export class CoalescedValue {
  private current = 0;
  private published = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly publish: (value: number) => void,
  ) {}

  get value(): number {
    return this.current;
  }

  set(value: number): void {
    this.current = value;
    this.timer ??= setTimeout(() => {
      this.timer = null;
      if (this.current !== this.published) {
        this.published = this.current;
        this.publish(this.current);
      }
    }, this.intervalMs);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
