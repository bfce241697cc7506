/**
 * Publishes a changing value at most once per interval. A change after a quiet interval goes out
 * at once (a lone viewer joining is counted immediately); changes within the interval after a
 * publish are held and go out together at its end, carrying the latest value (a burst of joins
 * becomes one more update). Nothing is sent when the value ends up where it was last published.
 */
export class CoalescedValue<T> {
  private current: T;
  private published: T;
  private publishedAt = -Infinity;
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
    if (this.timer) return;
    const wait = this.publishedAt + this.intervalMs - Date.now();
    if (wait <= 0) return this.flush();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, wait);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private flush(): void {
    if (this.equals(this.current, this.published)) return;
    this.published = this.current;
    this.publishedAt = Date.now();
    this.publish(this.current);
  }
}
