import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb, Repository } from './db.ts';

describe('the outbox after a crash', () => {
  it("a mail claimed by a killed sender goes out at the next start, not after the claim's lease", () => {
    const repo = new Repository(openDb(join(mkdtempSync(join(tmpdir(), 'gelombang-outbox-')), 'db.sqlite')));
    repo.createAccount('a@example.test', 'hash', 'token', Date.now() + 60_000, {
      subject: 's',
      text: 't',
      html: 'h',
    });
    const claimed = repo.claimOutbox(Date.now(), 60_000);
    expect(claimed).toBeDefined();
    // The sender died holding the lease: nobody else may take the mail until it expires ...
    expect(repo.claimOutbox(Date.now(), 60_000)).toBeUndefined();
    // ... unless the service starts again, when no sender of the earlier run can be alive.
    expect(repo.releaseOutboxClaims()).toBe(1);
    expect(repo.claimOutbox(Date.now(), 60_000)?.id).toBe(claimed?.id);
    repo.outboxSent(claimed?.id as number);
    expect(repo.releaseOutboxClaims()).toBe(0);
  });
});
