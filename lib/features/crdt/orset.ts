/**
 * OR-Set, add-wins, without tombstones (the "ORSWOT" of Riak and of Almeida et al.'s delta
 * CRDTs): each live element carries the dots of the adds that put it there, and a causal
 * context remembers every dot seen. A remove forgets the element's dots; because the context
 * still holds them, a merge knows they were removed rather than never seen. Unique tags are
 * `(replica, counter)` dots, never wall-clock time.
 *
 * Deltas are OR-Sets too. A delta may name an element with no dots (a remove): such "named"
 * entries tell a partial merge (one that only touches some elements, as the KV store does)
 * which elements the delta's context is about. Full states never hold empty entries.
 */

import {
  addDots,
  type CausalContext,
  compareDots,
  contextFromDots,
  contextHas,
  type Dot,
  EMPTY_CONTEXT,
  mergeContexts,
  nextDot,
  type ReplicaId,
  sameDot,
} from "./dots.ts";
import type { Mutation } from "./gcounter.ts";

/** An add-wins observed-remove set (or a delta of one). */
export interface OrSet {
  readonly entries: ReadonlyMap<string, readonly Dot[]>;
  readonly context: CausalContext;
}

/** The empty set. */
export const EMPTY_ORSET: OrSet = { entries: new Map(), context: EMPTY_CONTEXT };

function sortDots(dots: Dot[]): Dot[] {
  return dots.length > 1 ? dots.sort(compareDots) : dots;
}

/**
 * Adds `element` at `replica` with a fresh dot. The add supersedes the element's dots this
 * replica has seen (they go into the delta's context), so the set stays one dot per element
 * unless adds were concurrent.
 */
export function orsetAdd(set: OrSet, replica: ReplicaId, element: string): Mutation<OrSet> {
  const dot = nextDot(set.context, replica);
  const old = set.entries.get(element) ?? [];
  const entries = new Map(set.entries);
  entries.set(element, [dot]);
  return {
    state: { entries, context: addDots(set.context, [dot]) },
    delta: { entries: new Map([[element, [dot]]]), context: contextFromDots([...old, dot]) },
  };
}

/** Removes `element` (the adds this replica has observed; concurrent adds elsewhere win). */
export function orsetRemove(set: OrSet, element: string): Mutation<OrSet> {
  const old = set.entries.get(element);
  const delta: OrSet = {
    entries: new Map([[element, []]]),
    context: old ? contextFromDots(old) : EMPTY_CONTEXT,
  };
  if (!old) return { state: set, delta };
  const entries = new Map(set.entries);
  entries.delete(element);
  return { state: { entries, context: set.context }, delta };
}

/** The live dots of one element after merging: kept by both, or new to the other side. */
function mergeDots(
  mine: readonly Dot[],
  theirs: readonly Dot[],
  myContext: CausalContext,
  theirContext: CausalContext,
): readonly Dot[] {
  // The common case: both sides hold the same single add.
  if (
    mine === theirs || (mine.length === 1 && theirs.length === 1 && sameDot(mine[0], theirs[0]))
  ) {
    return mine;
  }
  const out: Dot[] = [];
  for (const d of mine) {
    if (theirs.some((t) => sameDot(t, d)) || !contextHas(theirContext, d)) out.push(d);
  }
  for (const d of theirs) {
    if (!mine.some((m) => sameDot(m, d)) && !contextHas(myContext, d)) out.push(d);
  }
  return sortDots(out);
}

function mergeEntries(a: OrSet, b: OrSet, keepNamed: boolean): Map<string, readonly Dot[]> {
  const entries = new Map<string, readonly Dot[]>();
  for (const [element, mine] of a.entries) {
    const theirs = b.entries.get(element);
    const kept = theirs === undefined
      ? (mine.every((d) => !contextHas(b.context, d))
        ? mine
        : mine.filter((d) => !contextHas(b.context, d)))
      : mergeDots(mine, theirs, a.context, b.context);
    if (kept.length > 0 || keepNamed) entries.set(element, kept);
  }
  for (const [element, theirs] of b.entries) {
    if (a.entries.has(element)) continue;
    const kept = theirs.filter((d) => !contextHas(a.context, d));
    if (kept.length > 0 || keepNamed) entries.set(element, kept);
  }
  return entries;
}

/** The join of two states: commutative, associative, idempotent. Empty entries are dropped. */
export function orsetMerge(a: OrSet, b: OrSet): OrSet {
  return { entries: mergeEntries(a, b, false), context: mergeContexts(a.context, b.context) };
}

/** The join of two deltas, keeping named (empty) entries so a partial merge still sees them. */
export function orsetJoinDeltas(a: OrSet, b: OrSet): OrSet {
  return { entries: mergeEntries(a, b, true), context: mergeContexts(a.context, b.context) };
}

/**
 * `remote` without what it cannot honestly know about `self`'s own adds: dots of `self` that
 * `local` (self's context) has not minted are dropped from the entries, and the context keeps only
 * `self`'s dots that `local` has. A peer thus cannot plant dots in this replica's name (which
 * would collide with its future adds) nor claim to have seen adds it never made. For an honest
 * peer this changes nothing: every dot of `self` it holds came from `self`.
 */
export function withoutForgedDots(remote: OrSet, self: ReplicaId, local: CausalContext): OrSet {
  const rvv = remote.context.vv.get(self) ?? 0;
  const rcloud = remote.context.cloud.get(self);
  const lvv = local.vv.get(self) ?? 0;
  const lcloud = local.cloud.get(self);
  const forgedContext = rvv > lvv ||
    [...(rcloud ?? [])].some((c) => !contextHas(local, { replica: self, counter: c }));
  let forgedEntry = false;
  for (const dots of remote.entries.values()) {
    if (dots.some((d) => d.replica === self && !contextHas(local, d))) {
      forgedEntry = true;
      break;
    }
  }
  if (!forgedContext && !forgedEntry) return remote;
  const entries = new Map<string, readonly Dot[]>();
  for (const [element, dots] of remote.entries) {
    entries.set(element, dots.filter((d) => d.replica !== self || contextHas(local, d)));
  }
  // Self's part of the context: the dots both sides know.
  const known: Dot[] = [];
  const top = Math.min(rvv, lvv);
  for (const c of lcloud ?? []) {
    if (c <= rvv || rcloud?.has(c)) known.push({ replica: self, counter: c });
  }
  for (const c of rcloud ?? []) {
    if (c > top && (c <= lvv || lcloud?.has(c))) known.push({ replica: self, counter: c });
  }
  const vv = new Map(remote.context.vv);
  const cloud = new Map(remote.context.cloud);
  if (top > 0) vv.set(self, top);
  else vv.delete(self);
  cloud.delete(self);
  const context = addDots({ vv, cloud }, known);
  return { entries, context };
}
