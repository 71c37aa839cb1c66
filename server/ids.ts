/** Ids that end up in room ids and Redis keys: no path characters, bounded length. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function isId(value: unknown): value is string {
  return typeof value === "string" && ID_PATTERN.test(value);
}

export const roomIdFor = {
  contactCenter: (customerId: string) => `cc-${customerId}`,
  private: (id: string) => `pr-${id}`,
  team: (teamId: string) => `team-${teamId}`,
};
