import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];
let hooked = false;

/** A fresh directory, removed by `using` (at the end of its scope). */
export function tempDir(prefix: string) {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * A fresh directory in the system's temporary directory, removed by `removeScratchDirs`: a test file calls
 * it `afterAll` (bun's test runner does not run exit handlers), a script at its exit. A run leaves nothing
 * behind (journals, CSV files and reports add up to tens of MB a run).
 */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  if (!hooked) {
    hooked = true;
    process.on("exit", removeScratchDirs);
  }
  return dir;
}

/** Removes every directory scratchDir made so far (on exit; or sooner, by a caller that is done with them). */
export function removeScratchDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}
