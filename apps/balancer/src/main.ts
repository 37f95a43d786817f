import { runApp } from "@evgrid/kit";
import { startBalancer } from "./app.ts";
import { readEnv } from "./env.ts";

await runApp("balancer", readEnv, startBalancer);
