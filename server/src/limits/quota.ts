import { ChannelError } from '../channel/channel-error.js';

/**
 * At most `limit` things held at once per key (a client address, a connection). `take` either
 * refuses with a clear error or returns the release, which is safe to call more than once.
 */
export class Quota {
  private readonly held = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly limit: number,
    private readonly refusal: (limit: number) => string,
    private readonly onRefused: (name: string) => void = () => undefined,
  ) {}

  count(key: string): number {
    return this.held.get(key) ?? 0;
  }

  /** Keys holding anything (for tests and leak checks). */
  get size(): number {
    return this.held.size;
  }

  /** Refuses (throws) when `key` already holds `limit`. */
  check(key: string): void {
    if (this.count(key) >= this.limit) {
      this.onRefused(this.name);
      throw new ChannelError('full', this.refusal(this.limit));
    }
  }

  take(key: string): () => void {
    this.check(key);
    this.held.set(key, this.count(key) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.count(key) - 1;
      if (left > 0) this.held.set(key, left);
      else this.held.delete(key);
    };
  }
}

const objectKeys = new WeakMap<object, string>();
let nextObjectKey = 0;

/** A stable string key for an object (a Socket.IO connection, whose own id its typings keep private). */
export function keyOf(object: object): string {
  let key = objectKeys.get(object);
  if (key === undefined) objectKeys.set(object, (key = `#${++nextObjectKey}`));
  return key;
}
