/**
 * The README's shell blocks and their test markers, for tests/e2e/readme_test.ts. A marker is an
 * HTML comment on its own line before a ```sh block (blank lines may separate them):
 *
 * - `<!-- readme-test: skip: <reason> -->`: not run here (deploys, other hosts, the internet);
 *   the test lists it with its reason.
 * - `<!-- readme-test: server -->`: the block starts a node; the test (re)starts it in the
 *   background on free ports with a fresh KV and waits until it answers.
 * - `<!-- readme-test: expect: <regular expression> -->`: the block's output must match.
 */

/** One ```sh block of the README. */
export interface ShBlock {
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  skip?: string;
  server: boolean;
  expect: RegExp[];
}

const MARKER = /^<!--\s*readme-test:\s*(.*?)\s*-->$/;

/** The ```sh blocks of `markdown` with their markers; an unknown marker is an error. */
export function readmeBlocks(markdown: string): ShBlock[] {
  const lines = markdown.split("\n");
  const blocks: ShBlock[] = [];
  let pending: Omit<ShBlock, "line" | "code"> = { server: false, expect: [] };
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i].trim();
    const marker = MARKER.exec(text);
    if (marker) {
      const [kind, ...rest] = marker[1].split(":");
      const arg = rest.join(":").trim();
      if (kind === "skip" && arg) pending.skip = arg;
      else if (kind === "server" && !arg) pending.server = true;
      else if (kind === "expect" && arg) pending.expect.push(new RegExp(arg));
      else throw new SyntaxError(`README.md:${i + 1}: unknown readme-test marker: ${marker[1]}`);
      continue;
    }
    if (/^```/.test(text)) {
      const fence = text.match(/^`+/)![0];
      const end = lines.findIndex((l, k) => k > i && l.trim() === fence);
      if (end < 0) throw new SyntaxError(`README.md:${i + 1}: unclosed code block`);
      if (text.slice(fence.length).trim() === "sh") {
        blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join("\n"), ...pending });
      } else if (pending.skip || pending.server || pending.expect.length) {
        throw new SyntaxError(`README.md:${i + 1}: a readme-test marker before a non-sh block`);
      }
      pending = { server: false, expect: [] };
      i = end;
      continue;
    }
    if (text !== "" && (pending.skip || pending.server || pending.expect.length)) {
      throw new SyntaxError(`README.md:${i + 1}: a readme-test marker not followed by a block`);
    }
  }
  return blocks;
}

/** Makes a README command run here: the local `deno`, and the node on `port`. */
export function localCommand(code: string, deno: string, port: number): string {
  return code
    .replaceAll("npx -y deno@2.9.6", `"${deno}"`)
    .replace(/\bdeno task\b/g, `"${deno}" task`)
    .replace(/\blocalhost:8000\b/g, `localhost:${port}`);
}
