/**
 * connect() resolves its options for every connection, and applications pass the same PEM text each time.
 * Parsing certificates (X509Certificate, ~150 µs each), building a trust store and importing a private key are
 * far more expensive than the handshake's own bookkeeping, so their results are kept here, keyed by the PEM
 * text, in small bounded maps (least recently used entries are dropped first).
 */
export class BoundedCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}

  get(key: string, make: () => V): V {
    const hit = this.map.get(key);
    if (hit !== undefined) {
      // Refresh: Map iteration order is insertion order, so re-inserting makes it the newest.
      this.map.delete(key);
      this.map.set(key, hit);
      return hit;
    }
    const value = make();
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
    return value;
  }
}
