/**
 * The one back-off, re-exported under its names: it lives in @evgrid/link (the link client reconnects with
 * it, and the link cannot import kit), the apps import it from kit.
 */
export {
  Backoff,
  type BackoffOptions,
  backgroundScheduler,
  backoffDelayMs,
  delay,
  type RetryOptions,
  retry,
} from "@evgrid/link/retry";
