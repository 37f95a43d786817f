import { onShutdown } from "@evgrid/kit";
import { startSubstation } from "./app.ts";
import { readEnv } from "./env.ts";

const app = startSubstation(readEnv());
onShutdown(() => app.stop());
