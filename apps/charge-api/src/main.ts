import { onShutdown } from "@evgrid/kit";
import { startChargeApi } from "./app.ts";
import { readEnv } from "./env.ts";

const app = startChargeApi(readEnv());
onShutdown(() => app.stop());
