import { Connection, type ConnectionHome, type ConnectOptions } from './connection.ts';

/**
 * The keep-alive connections to one origin. No limit: a request that finds no idle connection
 * opens one, so there is never a queue (k6's default transport has none either). Idle ones are
 * reused last-in first-out, which keeps the busiest few warm and lets the surplus idle out.
 */
export class Pool implements ConnectionHome {
  private readonly idle: Connection[] = [];

  constructor(private readonly options: ConnectOptions) {}

  /** The most recently used idle connection, if any is still open. */
  take(): Connection | undefined {
    for (let c = this.idle.pop(); c !== undefined; c = this.idle.pop()) if (c.usable) return c;
    return undefined;
  }

  open(): Connection {
    return new Connection(this.options, this);
  }

  release(c: Connection): void {
    this.idle.push(c);
  }

  forget(c: Connection): void {
    const i = this.idle.lastIndexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** Closes the idle connections (busy ones close when their request ends). */
  close(): void {
    for (const c of this.idle.splice(0)) c.destroy();
  }
}
