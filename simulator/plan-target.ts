import { constantProfile, type Profile, perMinute } from '../model/profile.ts';

/**
 * What `gelombang plan` sizes for, and the load it searches on. A peak (`--peak 80000/min`) is a
 * constant arrival rate held for some minutes: searched and verified on that same load. A profile
 * (the 2020 day by default) is searched on the window that decides capacity, its busiest hour of
 * arrivals unless `--window` says otherwise, because a probe of the whole day costs about a
 * minute of CPU and the search takes dozens; the result is then verified once on the whole profile.
 */

export type PlanTarget =
  | { kind: 'peak'; perMinute: number; minutes: number }
  | { kind: 'profile'; profile: Profile; file: string; window?: { fromMinute: number; toMinute: number } };

/** Minutes of the busiest window a profile is searched on by default. */
export const BUSIEST_MINUTES = 60;

/** The `minutes` consecutive profile minutes with the most arrivals (the earliest of equals), or all of a shorter profile. */
export function busiestWindow(
  p: Profile,
  minutes = BUSIEST_MINUTES,
): { fromMinute: number; toMinute: number } {
  const m = perMinute(p);
  if (m.length <= minutes) return { fromMinute: 0, toMinute: m.length };
  let sum = 0;
  for (let i = 0; i < minutes; i++) sum += m[i] as number;
  let best = sum;
  let from = 0;
  for (let i = minutes; i < m.length; i++) {
    sum += (m[i] as number) - (m[i - minutes] as number);
    if (sum > best) {
      best = sum;
      from = i - minutes + 1;
    }
  }
  return { fromMinute: from, toMinute: from + minutes };
}

/** The profile and window a probe of the search replays. */
export function searchLoad(t: PlanTarget): {
  profile: Profile;
  window?: { fromMinute: number; toMinute: number };
} {
  if (t.kind === 'peak') return { profile: constantProfile({ perMinute: t.perMinute, minutes: t.minutes }) };
  return { profile: t.profile, window: t.window ?? busiestWindow(t.profile) };
}

/** The profile the result is verified on: the whole of it; a peak has no load beyond the searched one. */
export function verifyLoad(t: PlanTarget): { profile: Profile } | null {
  return t.kind === 'peak' ? null : { profile: t.profile };
}

/** Arrivals in the target's busiest minute. */
export function busiestMinute(t: PlanTarget): number {
  return t.kind === 'peak' ? t.perMinute : Math.max(...perMinute(t.profile));
}

/** "--peak 80000/min for 30 min", "registration-day-2020.csv" */
export function describeTarget(t: PlanTarget): string {
  if (t.kind === 'peak') return `--peak ${t.perMinute}/min for ${t.minutes} min`;
  return t.file.replace(/^.*\//, '');
}

/** "searched minutes 0-60 of registration-day-2020.csv (707,623 arrivals)" */
export function describeSearch(t: PlanTarget): string {
  if (t.kind === 'peak')
    return `${(t.perMinute * t.minutes).toLocaleString('en')} arrivals at ${t.perMinute.toLocaleString('en')} a minute for ${t.minutes} minutes`;
  const w = searchLoad(t).window as { fromMinute: number; toMinute: number };
  const m = perMinute(t.profile);
  const n = m.slice(Math.floor(w.fromMinute), Math.ceil(w.toMinute)).reduce((a, b) => a + b, 0);
  return `minutes ${w.fromMinute}-${w.toMinute} of ${describeTarget(t)}${t.window ? '' : ' (its busiest hour)'}, ${Math.round(n).toLocaleString('en')} arrivals`;
}
