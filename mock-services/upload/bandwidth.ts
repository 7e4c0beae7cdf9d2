/**
 * One link shared by every upload: each chunk books time on a common timeline at the link's rate,
 * so ten concurrent uploads each get about a tenth of it. This is how photo upload broke in 2020:
 * not by refusing, but by every upload slowing down together until clients timed out.
 */
export class SharedLink {
  private busyUntil = 0;

  constructor(private bytesPerSecond: number) {}

  setRate(bytesPerSecond: number): void {
    this.bytesPerSecond = bytesPerSecond;
  }

  /** Resolves when `bytes` have passed through the link. */
  async transmit(bytes: number): Promise<void> {
    const now = performance.now();
    this.busyUntil = Math.max(now, this.busyUntil) + (bytes / this.bytesPerSecond) * 1000;
    const wait = this.busyUntil - now;
    if (wait >= 1) await new Promise((r) => setTimeout(r, wait));
  }

  /** Share of the link booked ahead of now, 0..1 over the next second (utilisation gauge). */
  utilisation(): number {
    return Math.min(1, Math.max(0, (this.busyUntil - performance.now()) / 1000));
  }
}
