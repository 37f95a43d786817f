/** Largest request body any app accepts (a charge request is ~100 bytes); larger is 413 PAYLOAD_TOO_LARGE. */
export const MAX_BODY_BYTES = 64 * 1024;
