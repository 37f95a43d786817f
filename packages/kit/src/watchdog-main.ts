/**
 * The watchdog of watchdog.ts: `bun watchdog-main.ts <pid>`. Its stdin is a pipe from the process that
 * started it, which never writes: the end of stdin means that process is gone, and `pid` is killed. It says
 * "watching" on stdout once it reads, so that its starter knows a kill -9 will be seen.
 */
import { isAlive } from "./process.ts";
import { WATCHING_LINE } from "./watchdog.ts";

const pid = Number(process.argv[2]);
if (!Number.isInteger(pid) || pid <= 0) {
  console.error(`watchdog: not a pid: ${process.argv[2]}`);
  process.exit(2);
}
// Its starter stops it when the child exits; should that be missed, a child gone on its own ends it too.
setInterval(() => {
  if (!isAlive(pid)) process.exit(0);
}, 1000);
const stdin = Bun.stdin.stream();
console.log(WATCHING_LINE);
for await (const _ of stdin) {
  // nothing is written: only the end counts
}
try {
  process.kill(pid, "SIGCONT"); // as every stop of a paused store does: resumed, then killed
  process.kill(pid, "SIGKILL");
} catch {
  // gone already
}
process.exit(0);
