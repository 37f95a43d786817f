import { z } from "zod";

/** A service's base URL on the command line (`--url`), without a trailing slash. */
export const baseUrlFlag = z
  .string()
  .regex(/^https?:\/\/[^/]+\/?$/, "must be an http(s) base URL, like http://127.0.0.1:8080")
  .transform((u) => u.replace(/\/$/, ""));
