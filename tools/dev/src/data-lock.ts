/**
 * One `bun run dev` per data directory. Two would share the substations' journals: the second's writes fail,
 * and it refuses every request while looking healthy. The lock is a file holding the runner's pid; one left
 * by a runner that is gone (killed, or its machine restarted) is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ensurePrivateDir } from "@evgrid/kit/private-files";
import { isAlive } from "@evgrid/kit/process";

const pidIn = (path: string): number | null => {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
};

/** Takes `dir` for this process: a release to call when it stops, or the pid of the runner holding it. */
export function lockDataDir(dir: string): { release: () => void } | { heldBy: number } {
  ensurePrivateDir(dir);
  const path = join(dir, "dev.pid");
  for (;;) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return { release: () => pidIn(path) === process.pid && rmSync(path, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = pidIn(path);
      if (pid !== null && pid !== process.pid && isAlive(pid)) return { heldBy: pid };
      rmSync(path, { force: true }); // left by a runner that is gone
    }
  }
}
