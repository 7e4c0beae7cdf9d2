/**
 * The vocabulary the dashboards and rules chart: scrape jobs, dependencies, funnel stages and the
 * datasource. The metric names themselves are owned by the services (mock-services/station/metrics.ts,
 * mock-services/registration/metrics.ts) and the runner (runner/metrics/prometheus.ts, which names
 * them as k6's experimental-prometheus-rw output does); the queries spell them out where they are
 * used so that a reader of a panel sees exactly what it asks Prometheus.
 */

/** Scrape jobs, one per process of the stack plus the embedded runner. */
export const JOBS = ['registration', 'ministry', 'email', 'upload', 'runner'] as const;
export type Job = (typeof JOBS)[number];

/** The `dependency` label, the same on the service side and on the mocks' stations. */
export const DEPENDENCIES = ['dukcapil', 'dapodik', 'dtks', 'email', 'upload'] as const;

/**
 * Funnel stages as the reference service counts them (gelombang_funnel_stage_reached_total{stage}),
 * in journey order: conversion is always "this stage over the one before".
 */
export const FUNNEL_STAGES = [
  'registered',
  'email_verified',
  'biodata_verified',
  'photo_uploaded',
  'assessment_done',
  'joined_wave',
] as const;

/** Outcomes a scenario records per stage (k6_funnel_stage_total{stage,outcome}). */
export const FUNNEL_OUTCOMES = ['continued', 'left_by_choice', 'in_progress', 'failed', 'rejected'] as const;

/** The provisioned datasource; its uid is fixed so that the dashboards need no datasource picker. */
export const DATASOURCE = { type: 'prometheus', uid: 'gelombang-prometheus' } as const;

/**
 * The rehearsal's availability objective for the error-budget alerts and panels: 99.5% of requests
 * answered without a 5xx. A 429 is load shedding the registrant is told to retry: it is charted,
 * but it does not burn the budget. The rule files spell out the same number (0.005 budget).
 */
export const AVAILABILITY_SLO = 0.995;
