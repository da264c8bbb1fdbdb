/** A Map that forgets its oldest entries beyond a size, for caches that must not grow with the fleet. */
export class BoundedCache<K, V> extends Map<K, V> {
  readonly #limit: number;

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  /** Sets an entry (as the newest), dropping the oldest ones past the limit. */
  override set(key: K, value: V): this {
    this.delete(key);
    super.set(key, value);
    while (this.size > this.#limit) {
      const oldest = this.keys().next();
      if (oldest.done === true) break;
      this.delete(oldest.value);
    }
    return this;
  }
}
