import { lstatSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAlive } from "@evgrid/kit/process";

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

/** The rest of a run directory's name after its prefix: the pid of its run, then mkdtemp's six characters. */
const RUN_DIR = /^(\d+)-[A-Za-z0-9]{6}$/;

/**
 * A fresh directory `<prefix><pid>-XXXXXX` (in `parent`, the system's temporary directory by default) for a
 * command that removes it itself when it stops (`bun run chaos`). Its own clean-up cannot run after a kill -9,
 * so first the directories of this prefix whose process is gone are removed: what a killed run left goes
 * at the next run. One of a live process (another run) is left alone, and so is another user's, and any
 * other name (`<prefix><pid>-old`).
 */
export function runTempDir(prefix: string, parent = tmpdir()): string {
  for (const name of readdirSync(parent)) {
    // Exactly what mkdtemp makes of `<prefix><pid>-` (six characters after it), and this user's only.
    const pid = Number(RUN_DIR.exec(name.startsWith(prefix) ? name.slice(prefix.length) : "")?.[1]);
    if (!(pid > 0) || isAlive(pid)) continue;
    try {
      const path = join(parent, name);
      if (lstatSync(path).uid === process.getuid?.()) rmSync(path, { recursive: true, force: true });
    } catch {
      // not ours to remove
    }
  }
  return mkdtempSync(join(parent, `${prefix}${process.pid}-`));
}
