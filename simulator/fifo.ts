/**
 * A first-in first-out queue on a ring that doubles when full, so a waiting room of a hundred
 * thousand costs O(1) per arrival and departure and leaves no garbage behind.
 */
export class Fifo<T> {
  private items: Array<T | undefined> = new Array<T | undefined>(16).fill(undefined);
  private mask = 15;
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(x: T): void {
    if (this.count > this.mask) this.grow();
    this.items[(this.head + this.count++) & this.mask] = x;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const x = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.count--;
    return x;
  }

  private grow(): void {
    const n = this.items.length;
    const items = new Array<T | undefined>(n * 2).fill(undefined);
    for (let k = 0; k < this.count; k++) items[k] = this.items[(this.head + k) & this.mask];
    this.items = items;
    this.mask = n * 2 - 1;
    this.head = 0;
  }
}
