/**
 * No source file over 300 lines (the developers' guide): a file that long does more than one thing, and
 * reviewers stop reading it. Generated files (their first line says so) are exempt.
 */
import { expect, test } from "bun:test";
import { repoRoot } from "@evgrid/testing";
import { Glob } from "bun";

const MAX_LINES = 300;
const GENERATED = /^(\/\/|\/\*) ?generated\b/i;

test(`no source file over ${MAX_LINES} lines, generated ones aside`, async () => {
  const over: string[] = [];
  const sources = new Glob("**/*.{ts,tsx,js,mjs,sh,py}");
  for await (const path of sources.scan({ cwd: repoRoot, dot: true })) {
    if (path.includes("node_modules/") || path.startsWith(".git/")) continue;
    const text = await Bun.file(`${repoRoot}/${path}`).text();
    if (GENERATED.test(text)) continue;
    const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    if (lines > MAX_LINES) over.push(`${path}: ${lines} lines`);
  }
  expect(over).toEqual([]);
});
