/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/** Number formatting for the dashboard: units always shown, no false precision. */

/** "1.2k", "35", "0.42" — for rates and counts. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (a >= 100 || Number.isInteger(n)) return Math.round(n).toLocaleString("en");
  return n.toFixed(a >= 10 ? 1 : 2);
}

/** Milliseconds with a unit: "850 µs", "12.3 ms", "1.40 s". */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** A fraction as a percentage: "0.42%", "97.1%". */
export function formatPct(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  const p = x * 100;
  return `${p === 0 ? "0" : p < 1 ? p.toFixed(2) : p.toFixed(1)}%`;
}

/** Decimals that tell ticks `step` apart (0 for whole steps, 1 for 0.5, 2 for 0.25 …). */
function decimalsFor(step: number): number {
  if (!(step > 0) || step >= 1) return 0;
  return Math.min(4, Math.ceil(-Math.log10(step) - 1e-9));
}

/** An axis tick of counts or rates: every tick with the decimals its step needs. */
export function tickCount(v: number, step: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(decimalsFor(step / 1e6))}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(decimalsFor(step / 1e3))}k`;
  return v.toFixed(decimalsFor(step));
}

/** An axis tick of a fraction, as a percentage with the decimals its step needs. */
export function tickPct(v: number, step: number): string {
  return `${(v * 100).toFixed(decimalsFor(step * 100))}%`;
}

/** An axis tick of milliseconds on a log axis: "500 µs", "2 ms", "1 s". */
export function tickMs(ms: number): string {
  if (ms < 1) return `${+(ms * 1000).toPrecision(3)} µs`;
  if (ms < 1000) return `${+ms.toPrecision(3)} ms`;
  return `${+(ms / 1000).toPrecision(3)} s`;
}

/** Seconds as a short duration: "45 s", "12 min", "3.5 h", "2.0 d". */
export function formatDuration(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

/** Escapes text for HTML. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
