/**
 * Writes scenarios/profiles/registration-day-2020.csv from its named parameters
 * (scenarios/profiles/registration-day-2020.ts). Run: node --import tsx scripts/generate-profile.ts
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeProfile, profileCsv } from '../scenarios/lib/profile.ts';
import { registrationDay2020 } from '../scenarios/profiles/registration-day-2020.ts';

const out = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'scenarios',
  'profiles',
  'registration-day-2020.csv',
);
const profile = registrationDay2020();
writeFileSync(out, profileCsv(profile));
const d = describeProfile(profile);
console.log(
  `${out}: ${d.buckets} minutes, ${d.total} arrivals, peak ${d.peak} at minute ${d.peakBucket}, mean ${d.mean.toFixed(1)}/min`,
);
