// html-to-text ships no types (it comes with mailparser); the one call the connector makes
declare module "html-to-text" {
  export function convert(html: string, options?: Record<string, unknown>): string;
}
