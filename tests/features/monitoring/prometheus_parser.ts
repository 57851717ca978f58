/**
 * A small parser for Prometheus' text format 0.0.4, strict enough to catch what a scraper would
 * reject: every sample needs a preceding TYPE, label syntax and escapes are checked.
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family as read back. */
export interface ParsedFamily {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseLabels(text: string, line: string): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let rest = text.slice(1);
  while (!rest.startsWith("}")) {
    const name = LABEL_NAME.exec(rest)?.[0];
    if (!name || rest[name.length] !== "=" || rest[name.length + 1] !== '"') {
      throw new SyntaxError(`Bad label in: ${line}`);
    }
    rest = rest.slice(name.length + 2);
    let value = "";
    while (rest[0] !== '"') {
      if (rest.length === 0) throw new SyntaxError(`Unterminated label value: ${line}`);
      if (rest[0] === "\\") {
        const c = rest[1];
        if (c === "n") value += "\n";
        else if (c === "\\" || c === '"') value += c;
        else throw new SyntaxError(`Bad escape in: ${line}`);
        rest = rest.slice(2);
      } else {
        value += rest[0];
        rest = rest.slice(1);
      }
    }
    if (name in labels) throw new SyntaxError(`Duplicate label ${name}: ${line}`);
    labels[name] = value;
    rest = rest.slice(1);
    if (rest.startsWith(",")) rest = rest.slice(1);
  }
  return [labels, rest.slice(1)];
}

function parseValue(text: string, line: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text)) throw new SyntaxError(`Bad value: ${line}`);
  return Number(text);
}

/** Parses the exposition into families (by name). */
export function parsePrometheus(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  if (!text.endsWith("\n")) throw new SyntaxError("The exposition must end with a newline");
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
      const [, kind, name, ...rest] = line.split(" ");
      if (!NAME.test(name)) throw new SyntaxError(`Bad metric name: ${line}`);
      const family = families.get(name) ?? { name, type: "", help: "", samples: [] };
      if (kind === "TYPE") {
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest[0])) {
          throw new SyntaxError(`Bad type: ${line}`);
        }
        if (family.type) throw new SyntaxError(`Second TYPE for ${name}`);
        family.type = rest[0];
      } else family.help = rest.join(" ");
      families.set(name, family);
      continue;
    }
    if (line.startsWith("#")) continue;
    const name = NAME.exec(line)?.[0];
    if (!name) throw new SyntaxError(`Bad sample: ${line}`);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) [labels, rest] = parseLabels(rest, line);
    if (!rest.startsWith(" ")) throw new SyntaxError(`Missing value: ${line}`);
    const value = parseValue(rest.trim().split(" ")[0], line);
    const base = name.replace(/_(bucket|sum|count)$/, "");
    const family = families.get(name) ?? families.get(base);
    if (!family?.type) throw new SyntaxError(`Sample without TYPE: ${line}`);
    if (family.name !== name && family.type !== "histogram" && family.type !== "summary") {
      throw new SyntaxError(`Suffixed sample of a ${family.type}: ${line}`);
    }
    family.samples.push({ name, labels, value });
  }
  return families;
}
