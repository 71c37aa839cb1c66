/**
 * Light and dark: the system's preference (CSS prefers-color-scheme) unless the page
 * was told otherwise (`?theme=dark`, or the console's own choice, kept in this browser).
 */
export type Theme = "auto" | "light" | "dark";

export function storedTheme(): Theme {
  const asked = new URLSearchParams(location.search).get("theme") ?? localStorage.getItem("cc-theme");
  return asked === "light" || asked === "dark" ? asked : "auto";
}

export function applyTheme(theme: Theme = storedTheme()) {
  if (theme === "auto") { delete document.documentElement.dataset.theme; } else { document.documentElement.dataset.theme = theme; }
}

export function chooseTheme(theme: Theme) {
  localStorage.setItem("cc-theme", theme);
  applyTheme(theme);
}
