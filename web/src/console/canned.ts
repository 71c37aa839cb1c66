/**
 * Canned replies: a shortcut and a text with placeholders, typed as `/shortcut`.
 * Kept per team in this browser (the server keeps none yet); {{customer.name}},
 * {{customer.id}} and {{agent.name}} are filled from the conversation.
 */
export interface Canned { shortcut: string; text: string }

const DEFAULTS: Canned[] = [
  { shortcut: "hello", text: "Hello {{customer.name}}, I am {{agent.name}}. How can I help?" },
  { shortcut: "wait", text: "Thank you for waiting, {{customer.name}}. I am checking this for you." },
  { shortcut: "bye", text: "Is there anything else I can do for you? Have a good day!" },
];

export function loadCanned(team: string): Canned[] {
  try {
    const stored = localStorage.getItem(`cc-canned-${team}`);
    return stored ? JSON.parse(stored) : DEFAULTS;
  } catch {
    return DEFAULTS;
  }
}

export function saveCanned(team: string, list: Canned[]) {
  localStorage.setItem(`cc-canned-${team}`, JSON.stringify(list));
}

export function fill(text: string, values: Record<string, string>): string {
  return text.replace(/\{\{\s*([a-z]+\.[a-z]+)\s*\}\}/gi, (all, key: string) => values[key] ?? all);
}

/** The replies whose shortcut starts with what follows the `/` (the whole input is the query). */
export function matching(list: Canned[], input: string): Canned[] {
  if (!input.startsWith("/")) { return []; }
  const query = input.slice(1).toLowerCase();
  return list.filter((c) => c.shortcut.toLowerCase().startsWith(query));
}
