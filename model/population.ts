import {
  CITIES,
  FIRST_NAMES_FEMALE,
  FIRST_NAMES_MALE,
  LAST_NAMES_FEMALE,
  LAST_NAMES_MALE,
  PROVINCES,
  STREET_PREFIXES,
} from './names-id.ts';
import { createRng } from './random.ts';

/**
 * The deterministic synthetic population of Indonesia that the ministry mock answers from and the
 * scenarios register from: person `index` of population `seed` is the same person everywhere, so a
 * scenario can pick registrants the registry knows (or, by the stated shares, does not).
 *
 * The NIK encodes the index in its regency, district and serial digits, so the ministry mock finds
 * a person from a NIK in O(1) without storing millions of records. Pure module: no k6, no Node.
 */

/** Province codes of the NIK's first two digits (Kemendagri codes of Indonesia's provinces). */
export const PROVINCE_CODES = [
  11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 51, 52, 53, 61, 62, 63, 64, 65, 71, 72, 73,
  74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96,
] as const;

/**
 * Shares of the population the registries treat differently (assumptions; docs/2020.md has no
 * breakdown of who failed NIK verification in 2020).
 */
export interface PopulationShares {
  /** NIK well-formed but unknown to Dukcapil (typos, unregistered): Dukcapil answers not found */
  unknownNik: number;
  /** known, but the name on record differs (spelling variants of Indonesian names are common) */
  nameMismatch: number;
  /** currently in school or university (Dapodik): not eligible */
  studying: number;
  /** already receives social assistance (DTKS): eligible, lower priority */
  dtksRecipient: number;
  /** younger than 18: not eligible */
  under18: number;
  /** not an Indonesian citizen */
  nonCitizen: number;
}

export const DEFAULT_SHARES: PopulationShares = {
  unknownNik: 0.03,
  nameMismatch: 0.02,
  studying: 0.06,
  dtksRecipient: 0.2,
  under18: 0.02,
  nonCitizen: 0.002,
};

export interface Address {
  street: string;
  village: string;
  district: string;
  regency: string;
  province: string;
  postalCode: string;
}

export interface Person {
  index: number;
  nik: string;
  /** the name the person types; equals the registry's name unless nameMismatch */
  fullName: string;
  /** the name on record at Dukcapil */
  registeredName: string;
  gender: 'M' | 'F';
  /** YYYY-MM-DD */
  dateOfBirth: string;
  /** whole years on the population's reference date */
  age: number;
  placeOfBirth: string;
  address: Address;
  inDukcapil: boolean;
  citizen: boolean;
  enrolledInEducation: boolean;
  educationLevel: 'SMA' | 'SMK' | 'D3' | 'S1' | 'S2' | null;
  dtksRecipient: boolean;
  dtksProgrammes: string[];
}

/** Persons addressable through the NIK's regency (2), district (2) and serial (4) digits. */
export const MAX_POPULATION = 99 * 99 * 9999;

/** A 32-bit hash of (seed, index) so that neighbouring indexes get unrelated random streams. */
function mix(seed: number, index: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ index, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The year ages are computed against: this year, so that adults stay adults as time passes. */
export function referenceDate(): Date {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), 0, 1));
}

export function ageOn(dateOfBirth: string, on: Date): number {
  const [y, m, d] = dateOfBirth.split('-').map(Number) as [number, number, number];
  let age = on.getUTCFullYear() - y;
  if (on.getUTCMonth() + 1 < m || (on.getUTCMonth() + 1 === m && on.getUTCDate() < d)) age--;
  return age;
}

/** Person `index` (0 <= index < MAX_POPULATION) of population `seed`. */
export function personAt(seed: number, index: number, shares: PopulationShares = DEFAULT_SHARES): Person {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_POPULATION) {
    throw new RangeError(`person index must be an integer in [0, ${MAX_POPULATION}), got ${index}`);
  }
  const rnd = createRng(mix(seed, index));
  const gender: 'M' | 'F' = rnd() < 0.5 ? 'M' : 'F';
  const ref = referenceDate();
  const under18 = rnd() < shares.under18;
  // Adults 18-58 weighted to the working young (the programme's applicants); minors stay under 18 all year.
  const age = under18 ? 14 + Math.floor(rnd() * 3) : 18 + Math.floor(40 * rnd() ** 1.6);
  const year = ref.getUTCFullYear() - age - 1;
  const month = 1 + Math.floor(rnd() * 12);
  const day = 1 + Math.floor(rnd() * daysInMonth(year, month));
  const dateOfBirth = `${year}-${pad(month, 2)}-${pad(day, 2)}`;

  const province = PROVINCE_CODES[Math.floor(rnd() * PROVINCE_CODES.length)] ?? 31;
  const serial = (index % 9999) + 1;
  const rest = Math.floor(index / 9999);
  const district = (rest % 99) + 1;
  const regency = (Math.floor(rest / 99) % 99) + 1;
  const nik = `${pad(province, 2)}${pad(regency, 2)}${pad(district, 2)}${pad(gender === 'F' ? day + 40 : day, 2)}${pad(
    month,
    2,
  )}${pad(year % 100, 2)}${pad(serial, 4)}`;

  const inDukcapil = rnd() >= shares.unknownNik;
  const nameMismatch = rnd() < shares.nameMismatch;
  const citizen = rnd() >= shares.nonCitizen;
  const studying = rnd() < shares.studying;
  const dtksRecipient = rnd() < shares.dtksRecipient;
  const levelRoll = rnd();

  // Names and places come from their own stream, so that the identity draws above stay as they are.
  const words = createRng(mix(seed, index) ^ 0x5bd1e995);
  const pick = (list: readonly string[]) => list[Math.floor(words() * list.length)] as string;
  const firstNames = gender === 'F' ? FIRST_NAMES_FEMALE : FIRST_NAMES_MALE;
  const lastNames = gender === 'F' ? LAST_NAMES_FEMALE : LAST_NAMES_MALE;
  // As Indonesians are named: one given name, often two, and a family name that many lack.
  const given = words() < 0.3 ? `${pick(firstNames)} ${pick(firstNames)}` : pick(firstNames);
  const registeredName = words() < 0.8 ? `${given} ${pick(lastNames)}` : given;
  const fullName = nameMismatch ? `${registeredName} ${pick(lastNames)}` : registeredName;
  const placeOfBirth = pick(CITIES);
  const address: Address = {
    street: `${pick(STREET_PREFIXES)} ${pick(words() < 0.5 ? firstNames : lastNames)} no ${1 + Math.floor(words() * 99)}`,
    village: pick(CITIES),
    district: pick(CITIES),
    regency: pick(CITIES),
    province: pick(PROVINCES),
    postalCode: String(10000 + Math.floor(words() * 90000)),
  };

  let educationLevel: Person['educationLevel'] = null;
  if (studying)
    educationLevel =
      age < 19 ? (levelRoll < 0.6 ? 'SMA' : 'SMK') : levelRoll < 0.2 ? 'D3' : levelRoll < 0.9 ? 'S1' : 'S2';

  return {
    index,
    nik,
    fullName,
    registeredName,
    gender,
    dateOfBirth,
    age: ageOn(dateOfBirth, new Date()),
    placeOfBirth,
    address,
    inDukcapil,
    citizen,
    enrolledInEducation: studying,
    educationLevel,
    dtksRecipient,
    dtksProgrammes: dtksRecipient ? (levelRoll < 0.5 ? ['PKH'] : ['BPNT', 'PKH']) : [],
  };
}

/** The index a NIK encodes, or undefined when its digits cannot be one of ours. */
export function indexFromNik(nik: string): number | undefined {
  if (!/^\d{16}$/.test(nik)) return undefined;
  const regency = Number(nik.slice(2, 4));
  const district = Number(nik.slice(4, 6));
  const serial = Number(nik.slice(12, 16));
  if (regency < 1 || district < 1 || serial < 1) return undefined;
  return ((regency - 1) * 99 + (district - 1)) * 9999 + (serial - 1);
}

/** The person a NIK names in population `seed`, or undefined (not ours, or Dukcapil does not know it). */
export function findByNik(
  seed: number,
  nik: string,
  shares: PopulationShares = DEFAULT_SHARES,
): Person | undefined {
  const index = indexFromNik(nik);
  if (index === undefined || index >= MAX_POPULATION) return undefined;
  const person = personAt(seed, index, shares);
  return person.nik === nik ? person : undefined;
}

/** Would the rules accept this person (all registries agree and the age is right)? */
export function isEligible(p: Person): boolean {
  return (
    p.inDukcapil && p.fullName === p.registeredName && p.citizen && !p.enrolledInEducation && p.age >= 18
  );
}
