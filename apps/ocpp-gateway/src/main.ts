import { onShutdown, runMain } from "@evgrid/kit";
import { startGateway } from "./app.ts";
import { readEnv } from "./env.ts";

await runMain("ocpp-gateway", async () => {
  const env = readEnv();
  const app = await startGateway(env);
  onShutdown(() => app.stop(), { parentPid: env.PARENT_PID, hangup: true });
});
