/**
 * Runs a task at most once per interval, however often it is poked. A poke after a quiet interval
 * runs it at once (a lone viewer joining is counted immediately); pokes within the interval after
 * a run are held and run it once at its end (a burst of joins becomes one more update); a poke
 * while an asynchronous run is in progress runs it again afterwards, so nothing is missed. The
 * task says whether it published anything: only then does the interval start.
 */
export class Coalescer {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private again = false;
  private ranAt = -Infinity;

  constructor(
    private readonly intervalMs: number,
    private readonly task: () => boolean | Promise<boolean>,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  poke(): void {
    if (this.running) return void (this.again = true);
    if (this.timer) return;
    const wait = this.ranAt + this.intervalMs - Date.now();
    if (wait <= 0) return this.run();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.run();
    }, wait);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private run(): void {
    let result: boolean | Promise<boolean>;
    try {
      result = this.task();
    } catch (error) {
      return this.onError(error);
    }
    if (typeof result === 'boolean') {
      if (result) this.ranAt = Date.now();
      return;
    }
    this.running = true;
    this.again = false;
    result
      .then((published) => published && (this.ranAt = Date.now()), this.onError)
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }
}

/**
 * Publishes a changing value at most once per interval (see Coalescer). Nothing is sent when the
 * value ends up where it was last published.
 */
export class CoalescedValue<T> {
  private current: T;
  private published: T;
  private readonly coalescer: Coalescer;

  constructor(
    initial: T,
    intervalMs: number,
    private readonly publish: (value: T) => void,
    private readonly equals: (a: T, b: T) => boolean = Object.is,
  ) {
    this.current = initial;
    this.published = initial;
    this.coalescer = new Coalescer(intervalMs, () => this.flush());
  }

  get value(): T {
    return this.current;
  }

  set(value: T): void {
    this.current = value;
    this.coalescer.poke();
  }

  dispose(): void {
    this.coalescer.dispose();
  }

  private flush(): boolean {
    if (this.equals(this.current, this.published)) return false;
    this.published = this.current;
    this.publish(this.current);
    return true;
  }
}
