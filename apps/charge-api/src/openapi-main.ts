/** `bun run openapi`: writes the public API's OpenAPI document to docs/openapi.json (a test keeps it current). */
import { resolve } from "node:path";
import { describedChargeApi, openApiText } from "./openapi.ts";

const path = resolve(import.meta.dir, "../../../docs/openapi.json");
await Bun.write(path, openApiText(describedChargeApi()));
console.log(`wrote ${path}`);
