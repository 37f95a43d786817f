/** Largest request body any app accepts (a charge request is ~100 bytes); larger is 413 PAYLOAD_TOO_LARGE. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Calls one HTTP request may carry as a batch, unless MAX_BATCH_CALLS says otherwise. */
export const DEFAULT_MAX_BATCH_CALLS = 256;
