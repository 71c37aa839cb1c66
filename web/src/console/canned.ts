/**
 * Canned replies: a shortcut and a text with placeholders, typed as `/shortcut`. The
 * team's list comes from the server (`canned`; supervisors replace it with
 * `canned_set`); {{customer.name}}, {{customer.id}} and {{agent.name}} are filled here.
 */
export interface Canned { shortcut: string; text: string }

export function fill(text: string, values: Record<string, string>): string {
  return text.replace(/\{\{\s*([a-z]+\.[a-z]+)\s*\}\}/gi, (all, key: string) => values[key] ?? all);
}

/** The replies whose shortcut starts with what follows the `/` (the whole input is the query). */
export function matching(list: Canned[], input: string): Canned[] {
  if (!input.startsWith("/")) { return []; }
  const query = input.slice(1).toLowerCase();
  return list.filter((c) => c.shortcut.toLowerCase().startsWith(query));
}
