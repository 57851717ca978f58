/** Deno KV keys of the authorization area (listed in docs/kv.md). */

/** Whose allowance a rate-limit state is: a verified user, or a client IP when anonymous. */
export type RateSubject = { kind: "user"; id: string } | { kind: "ip"; id: string };

/** GCRA state of one subject in one rate-limit class: `{ tat: number }` (ms since the epoch). */
export function rateLimitKey(
  rateClass: string,
  subject: RateSubject,
): ["ratelimit", string, "user" | "ip", string] {
  return ["ratelimit", rateClass, subject.kind, subject.id];
}
