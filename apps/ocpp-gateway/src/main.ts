import { runApp } from "@evgrid/kit";
import { startGateway } from "./app.ts";
import { readEnv } from "./env.ts";

await runApp("ocpp-gateway", readEnv, startGateway);
