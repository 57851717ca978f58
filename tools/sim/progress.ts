/** A one-line progress display: redrawn in place on a terminal, a line per 10% otherwise. */

const encoder = new TextEncoder();

/** Counts work done out of `total` and shows it. */
export class Progress {
  #label: string;
  #total: number;
  #done = 0;
  #detail = "";
  #tty: boolean;
  #lastDraw = 0;
  #lastDecile = -1;
  #started = performance.now();

  constructor(label: string, total: number, options: { tty?: boolean } = {}) {
    this.#label = label;
    this.#total = Math.max(1, total);
    this.#tty = options.tty ?? Deno.stdout.isTerminal();
    this.#draw(true);
  }

  /** Adds `n` finished units; `detail` names what is running now. */
  tick(n = 1, detail?: string): void {
    this.#done += n;
    if (detail !== undefined) this.#detail = detail;
    this.#draw(false);
  }

  /** Replaces the detail text. */
  note(detail: string): void {
    this.#detail = detail;
    this.#draw(false);
  }

  /** Ends the display with a final line. */
  done(summary = ""): void {
    const s = ((performance.now() - this.#started) / 1000).toFixed(1);
    const line = `${this.#label}: done in ${s} s${summary ? ` — ${summary}` : ""}`;
    if (this.#tty) Deno.stdout.writeSync(encoder.encode(`\r\x1b[2K${line}\n`));
    else console.log(line);
  }

  #draw(force: boolean): void {
    const fraction = Math.min(1, this.#done / this.#total);
    if (this.#tty) {
      const now = performance.now();
      if (!force && now - this.#lastDraw < 100 && this.#done < this.#total) return;
      this.#lastDraw = now;
      const width = 24;
      const filled = Math.round(fraction * width);
      const bar = "█".repeat(filled) + "░".repeat(width - filled);
      const text = `${this.#label} ${bar} ${this.#done}/${this.#total} ${this.#detail}`;
      Deno.stdout.writeSync(encoder.encode(`\r\x1b[2K${text.slice(0, 120)}`));
      return;
    }
    const decile = Math.floor(fraction * 10);
    if (decile > this.#lastDecile) {
      this.#lastDecile = decile;
      console.log(`${this.#label}: ${decile * 10}% (${this.#done}/${this.#total}) ${this.#detail}`);
    }
  }
}

/** Nearest-rank percentile of an ascending list (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Summary figures of a sample, ms. */
export interface Stats {
  n: number;
  p50: number;
  p95: number;
  mean: number;
  min: number;
  max: number;
}

/** Summarises samples (ms), rounded to 0.1 ms. */
export function summarize(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  const mean = sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1);
  return {
    n: sorted.length,
    p50: r(percentile(sorted, 50)),
    p95: r(percentile(sorted, 95)),
    mean: r(sorted.length ? mean : NaN),
    min: r(sorted[0] ?? NaN),
    max: r(sorted.at(-1) ?? NaN),
  };
}
