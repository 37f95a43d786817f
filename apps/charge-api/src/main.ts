import { onShutdown, runMain } from "@evgrid/kit";
import { startChargeApi } from "./app.ts";
import { readEnv } from "./env.ts";

await runMain("charge-api", async () => {
  const env = readEnv();
  const app = await startChargeApi(env);
  onShutdown(() => app.stop(), { parentPid: env.PARENT_PID, hangup: true });
});
