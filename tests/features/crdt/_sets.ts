/** How the tests look at OR-Set states: the live elements, membership, and equality. */

import { contextsEqual } from "../../../lib/features/crdt/dots.ts";
import type { OrSet } from "../../../lib/features/crdt/orset.ts";

/** The live elements, sorted. */
export function orsetElements(set: OrSet): string[] {
  return [...set.entries].filter(([, dots]) => dots.length > 0).map(([e]) => e).sort();
}

/** True when `element` is in the set. */
export function orsetHas(set: OrSet, element: string): boolean {
  return (set.entries.get(element)?.length ?? 0) > 0;
}

/** Each live element's dots as sorted text, so states compare whatever their order. */
function liveDots(set: OrSet): Map<string, string> {
  const out = new Map<string, string>();
  for (const [element, dots] of set.entries) {
    if (dots.length > 0) {
      out.set(
        element,
        dots.map((d) => `${d.replica}:${d.counter}`).sort().join(),
      );
    }
  }
  return out;
}

/** True when both hold the same live dots per element and the same context. */
export function orsetEquals(a: OrSet, b: OrSet): boolean {
  const x = liveDots(a);
  const y = liveDots(b);
  return x.size === y.size && [...x].every(([e, dots]) => y.get(e) === dots) &&
    contextsEqual(a.context, b.context);
}
