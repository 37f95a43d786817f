import { onShutdown } from "@evgrid/kit";
import { startBalancer } from "./app.ts";
import { readEnv } from "./env.ts";

const app = await startBalancer(readEnv());
onShutdown(() => app.stop());
