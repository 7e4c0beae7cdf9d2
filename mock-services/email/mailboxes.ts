/**
 * Delivered mail, kept in memory with a bound on the total so that a long rehearsal cannot exhaust
 * memory: the oldest message anywhere is evicted first (and counted). A mailbox holds one message
 * per Message-ID, as a mail client shows it: a copy delivered again (a sender's at-least-once
 * retry) adds to the message's `copies`, not to the mailbox.
 */
export interface Message {
  id: string;
  /** the Message-ID header; null when the mail had none (never merged with another) */
  messageId: string | null;
  /** how many times this mail was delivered to this mailbox (1, or more for duplicates) */
  copies: number;
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
  /** mailbox + Message-ID -> the message held */
  private readonly byMessageId = new Map<string, Message>();
  private head = 0;
  evicted = 0;
  /** copies delivered of a message the mailbox already held */
  duplicates = 0;

  constructor(private readonly maxMessages: number) {}

  get size(): number {
    return this.order.length - this.head;
  }

  /** Adds the message to its recipient's mailbox, or counts it as one more copy of one held there. */
  deliver(m: Message): 'new' | 'duplicate' {
    const key = m.to.toLowerCase();
    const idKey = m.messageId === null ? undefined : messageKey(key, m.messageId);
    const held = idKey === undefined ? undefined : this.byMessageId.get(idKey);
    if (held) {
      held.copies += 1;
      this.duplicates++;
      return 'duplicate';
    }
    if (idKey !== undefined) this.byMessageId.set(idKey, m);
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
    return 'new';
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
    const box = this.boxes.get(key) ?? [];
    for (const m of box) this.forgetMessageId(m);
    this.boxes.delete(key);
    return box.length;
  }

  private evictOldest(): void {
    const m = this.order[this.head++];
    if (!m) return;
    this.forgetMessageId(m);
    const key = m.to.toLowerCase();
    const box = this.boxes.get(key);
    if (box) {
      const i = box.indexOf(m);
      if (i >= 0) box.splice(i, 1);
      if (box.length === 0) this.boxes.delete(key);
    }
    this.evicted++;
  }

  private forgetMessageId(m: Message): void {
    if (m.messageId === null) return;
    const idKey = messageKey(m.to.toLowerCase(), m.messageId);
    if (this.byMessageId.get(idKey) === m) this.byMessageId.delete(idKey);
  }
}

const messageKey = (mailbox: string, messageId: string) => `${mailbox}\u0000${messageId}`;

const URL_RE = /https?:\/\/[^\s"'<>)]+/g;

export function extractLinks(text: string, html: string): string[] {
  const found = new Set<string>();
  for (const s of [text, html]) for (const m of s.matchAll(URL_RE)) found.add(m[0].replace(/&amp;/g, '&'));
  return [...found];
}
