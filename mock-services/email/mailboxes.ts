/**
 * Delivered mail, kept in memory with a bound on the total so that a long rehearsal cannot exhaust
 * memory: the oldest message anywhere is evicted first (and counted).
 */
export interface Message {
  id: string;
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  receivedAt: string;
  links: string[];
}

export class Mailboxes {
  private readonly boxes = new Map<string, Message[]>();
  private readonly order: Message[] = [];
  private head = 0;
  evicted = 0;

  constructor(private readonly maxMessages: number) {}

  get size(): number {
    return this.order.length - this.head;
  }

  deliver(m: Message): void {
    const key = m.to.toLowerCase();
    const box = this.boxes.get(key) ?? [];
    box.push(m);
    this.boxes.set(key, box);
    this.order.push(m);
    while (this.size > this.maxMessages) this.evictOldest();
    // Compact the eviction queue now and then instead of shifting on every eviction.
    if (this.head > 10_000 && this.head > this.order.length / 2) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }

  list(address: string): Message[] {
    return this.boxes.get(address.toLowerCase()) ?? [];
  }

  get(id: string): Message | undefined {
    for (let i = this.order.length - 1; i >= this.head; i--)
      if (this.order[i]?.id === id) return this.order[i];
    return undefined;
  }

  clear(address: string): number {
    const key = address.toLowerCase();
    const n = this.boxes.get(key)?.length ?? 0;
    this.boxes.delete(key);
    return n;
  }

  private evictOldest(): void {
    const m = this.order[this.head++];
    if (!m) return;
    const key = m.to.toLowerCase();
    const box = this.boxes.get(key);
    if (box) {
      const i = box.indexOf(m);
      if (i >= 0) box.splice(i, 1);
      if (box.length === 0) this.boxes.delete(key);
    }
    this.evicted++;
  }
}

const URL_RE = /https?:\/\/[^\s"'<>)]+/g;

export function extractLinks(text: string, html: string): string[] {
  const found = new Set<string>();
  for (const s of [text, html]) for (const m of s.matchAll(URL_RE)) found.add(m[0].replace(/&amp;/g, '&'));
  return [...found];
}
