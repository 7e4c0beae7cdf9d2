import type { EventQueue } from './events.ts';
import type { SimKill } from './faults.ts';
import type { Outbox } from './outbox.ts';
import { type Account, type AnswerSink, CONNECTION_LOST, RegistrationService } from './service.ts';

type Design = ConstructorParameters<typeof RegistrationService>[1];

/** Busy time since the last reading, ms: the cores', the event loops' together, the write lock's. */
export interface BusyAreas {
  cpu: number;
  loops: number;
  lock: number;
}

/**
 * The registration service through its kills (faults.ts SimKill): the one that last started, and
 * what answers in its place while it is down (nothing listens: a request is refused on connecting,
 * at once). A restart is a new RegistrationService that finds what the killed one left (its
 * Durable, its timing) and the outbox's senders begun again. A killed one's busy time up to its
 * death counts in the interval it died in; after, its processes are gone.
 */
export class ServiceLife {
  /** the service as it last started */
  current: RegistrationService;
  up = true;
  /** every start, the first included */
  readonly starts: RegistrationService[];
  readonly outbox: Outbox | undefined;
  private killedAt = Number.NEGATIVE_INFINITY;
  private restartedAt = Number.NEGATIVE_INFINITY;
  private readonly carried: BusyAreas = { cpu: 0, loops: 0, lock: 0 };

  constructor(
    private readonly q: EventQueue,
    private readonly design: Design,
    kills: readonly SimKill[],
    /** the outbox's sender on the first start (EMAIL_DELIVERY=outbox), or none */
    outboxOf?: (s: RegistrationService) => Outbox | undefined,
  ) {
    this.current = new RegistrationService(q, kills.length > 0 ? { ...design, killable: true } : design);
    this.starts = [this.current];
    this.outbox = outboxOf?.(this.current);
    for (const k of kills) {
      q.schedule(k.startMs, this.kill, undefined);
      if (Number.isFinite(k.endMs)) q.schedule(k.endMs, this.restart, undefined);
    }
  }

  private readonly kill = (): void => {
    if (!this.up) return;
    const dying = busySince(this.current);
    this.carried.cpu += dying.cpu;
    this.carried.loops += dying.loops;
    this.carried.lock += dying.lock;
    this.up = false;
    this.killedAt = this.q.now;
    this.outbox?.kill();
    this.current.kill();
  };

  private readonly restart = (): void => {
    if (this.up) return;
    const killed = this.current;
    this.current = new RegistrationService(this.q, {
      ...this.design,
      killable: true,
      durable: killed.durable,
      timing: killed.timing,
      generation: this.starts.length,
    });
    this.starts.push(this.current);
    this.up = true;
    this.restartedAt = this.q.now;
    this.outbox?.restart(this.current);
  };

  /** A registrant's request: to the service, or refused on connecting while it is down. */
  handleStep(step: number, acct: Account, sink: AnswerSink, token: number): void {
    if (this.up) this.current.handleStep(step, acct, sink, token);
    else this.q.schedule(this.q.now, () => sink.onAnswer(acct, token, CONNECTION_LOST), undefined);
  }

  /** The service's busy time since the last reading; a killed one's up to its death. */
  takeBusy(): BusyAreas {
    const own = this.up ? busySince(this.current) : { cpu: 0, loops: 0, lock: 0 };
    const areas: BusyAreas = {
      cpu: own.cpu + this.carried.cpu,
      loops: own.loops + this.carried.loops,
      lock: own.lock + this.carried.lock,
    };
    this.carried.cpu = 0;
    this.carried.loops = 0;
    this.carried.lock = 0;
    return areas;
  }

  /** Whether the service was down for the whole `intervalMs` ending now: no process to read. */
  downThrough(intervalMs: number): boolean {
    const now = this.q.now;
    return this.killedAt <= now - intervalMs && (this.restartedAt < this.killedAt || this.restartedAt >= now);
  }

  /** The service's SMTP connections busy now (none while it is down). */
  mailing(): number {
    if (!this.up) return 0;
    let busy = 0;
    for (const m of this.current.mailers) busy += m.busy;
    return busy;
  }
}

/** A service's busy time since its last reading (each takeBusyArea resets its own). */
function busySince(s: RegistrationService): BusyAreas {
  return {
    cpu: s.cores.takeBusyArea(),
    loops: s.loops.reduce((a, l) => a + l.takeBusyArea(), 0),
    lock: s.writeLock.takeBusyArea(),
  };
}
