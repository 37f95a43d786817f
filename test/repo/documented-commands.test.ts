import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");
const scripts = Object.keys(
  (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> })
    .scripts,
);

/** The READMEs and BENCHMARKS.md: the root's, and each app's and package's. */
function docs(): string[] {
  const found = ["README.md", "BENCHMARKS.md", "test/README.md", "otel/README.md"];
  for (const dir of ["apps", "packages", "tools"])
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true }))
      if (entry.isDirectory()) found.push(join(dir, entry.name, "README.md"));
  return found.filter((f) => {
    try {
      readFileSync(join(root, f));
      return true;
    } catch {
      return false;
    }
  });
}

describe("commands the documents give", () => {
  test("every `bun run <script>` a README or BENCHMARKS.md names is one of the repository root's scripts", () => {
    // `bun run soak:chain` and `bun run bench:alloc` were named in BENCHMARKS.md and the README and failed
    // with "Script not found": they existed only in apps/load-tester.
    const missing: string[] = [];
    for (const file of docs()) {
      const text = readFileSync(join(root, file), "utf8");
      // In inline code, in code blocks and after a VAR=value prefix alike (not `bun run --cwd`).
      for (const m of text.matchAll(/(?:^|[\s`(])bun run ([a-z][a-z0-9:-]*[a-z0-9])/gm)) {
        const name = m[1] as string;
        if (!scripts.includes(name)) missing.push(`${file}: bun run ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
