/**
 * Publishes a changing value at most once per interval: a burst of joins and leaves becomes a
 * single update carrying the latest value, and no update is sent when the value ends up where
 * it was last published.
 */
export class CoalescedValue<T> {
  private current: T;
  private published: T;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    initial: T,
    private readonly intervalMs: number,
    private readonly publish: (value: T) => void,
    private readonly equals: (a: T, b: T) => boolean = Object.is,
  ) {
    this.current = initial;
    this.published = initial;
  }

  get value(): T {
    return this.current;
  }

  set(value: T): void {
    this.current = value;
    this.timer ??= setTimeout(() => {
      this.timer = null;
      if (!this.equals(this.current, this.published)) {
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
