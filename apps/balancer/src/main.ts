import { onShutdown, runMain } from "@evgrid/kit";
import { startBalancer } from "./app.ts";
import { readEnv } from "./env.ts";

await runMain("balancer", async () => {
  const env = readEnv();
  const app = await startBalancer(env);
  onShutdown(() => app.stop(), { parentPid: env.PARENT_PID, hangup: true });
});
