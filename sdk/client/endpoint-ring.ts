/**
 * The routers a client may use, and which one it sends to now. The choice sticks across calls:
 * once a router has answered, later calls go straight to it instead of probing dead ones first.
 */
export class EndpointRing {
  private index = 0;

  constructor(readonly endpoints: readonly string[]) {}

  /** How many routers there are: one failover pass tries each once. */
  get size(): number {
    return this.endpoints.length;
  }

  /** The router calls go to now. */
  current(): string {
    return this.endpoints[this.index] as string;
  }

  /** Moves past a router that could not be reached, wrapping after the last. */
  skip(): void {
    this.index = (this.index + 1) % this.endpoints.length;
  }
}
