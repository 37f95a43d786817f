import { onShutdown, runMain } from "@evgrid/kit";
import { startSubstation } from "./app.ts";
import { readEnv } from "./env.ts";

await runMain("substation", async () => {
  const env = readEnv();
  const app = await startSubstation(env);
  onShutdown(() => app.stop(), { parentPid: env.PARENT_PID });
});
