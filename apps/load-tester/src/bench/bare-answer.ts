/** What the last hop answers: a session as the real chain's would be, in tRPC's envelope. */
export const SESSION_ANSWER = JSON.stringify({
  result: {
    data: {
      sessionId: `substation-1.${"0".repeat(32)}`,
      substationId: "substation-1",
      vehicleId: "bare",
      allocatedKw: 11,
      minKw: 4.2,
      maxKw: 11,
      startedAt: new Date(0).toISOString(),
      expectedEndAt: new Date(5000).toISOString(),
      durationS: 5,
      energyKwh: null,
      tries: 1,
    },
  },
});
