/**
 * A URL as it may be printed: the password of its userinfo (`redis://user:secret@host`) replaced by `***`,
 * the user kept (it says which account, not how to get in). Anything that does not parse as a URL has every
 * `//userinfo@` masked whole, so a malformed secret-bearing string is never printed either.
 */
export function redactUrl(url: string): string {
  if (!URL.canParse(url)) return url.replace(/\/\/[^@/\s]*@/g, "//***@");
  const parsed = new URL(url);
  if (parsed.password === "") return url;
  parsed.password = "***";
  return parsed.href.endsWith("/") && !url.endsWith("/") ? parsed.href.slice(0, -1) : parsed.href;
}
