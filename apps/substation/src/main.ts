import { runApp } from "@evgrid/kit";
import { startSubstation } from "./app.ts";
import { readEnv, siteEnvs } from "./env.ts";

await runApp("substation", readEnv, async (env) => {
  // One after another, so their "listening" lines come in the order of SUBSTATION_SITES.
  const apps: Awaited<ReturnType<typeof startSubstation>>[] = [];
  const sites = siteEnvs(env);
  for (const site of sites) apps.push(await startSubstation(site, { sharedLinks: sites.length > 1 }));
  return {
    async stop() {
      await Promise.all(apps.map((app) => app.stop()));
    },
  };
});
