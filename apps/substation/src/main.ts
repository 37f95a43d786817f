import { onShutdown, runMain } from "@evgrid/kit";
import { startSubstation } from "./app.ts";
import { readEnv, siteEnvs } from "./env.ts";

await runMain("substation", async () => {
  const env = readEnv();
  // One after another, so their "listening" lines come in the order of SUBSTATION_SITES.
  const apps: Awaited<ReturnType<typeof startSubstation>>[] = [];
  for (const site of siteEnvs(env)) apps.push(await startSubstation(site));
  onShutdown(
    async () => {
      await Promise.all(apps.map((app) => app.stop()));
    },
    { parentPid: env.PARENT_PID, hangup: true },
  );
});
