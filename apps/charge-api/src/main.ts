import { runApp } from "@evgrid/kit";
import { startChargeApi } from "./app.ts";
import { readEnv } from "./env.ts";

await runApp("charge-api", readEnv, startChargeApi);
