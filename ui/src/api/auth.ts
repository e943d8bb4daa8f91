/**
 * The API key the user entered: kept in localStorage, mirrored into the `msgtrace_key` cookie
 * (what the server's middleware accepts, and the only way an EventSource can carry it).
 * A 401 from any request dispatches UNAUTHORIZED_EVENT; ApiKeyPrompt listens for it.
 */
export const STORAGE_KEY = "msgtrace_key";
export const COOKIE_NAME = "msgtrace_key";
export const UNAUTHORIZED_EVENT = "msgtrace:unauthorized";

export function storedApiKey(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

/**
 * The cookie string for a key. Keys of letters, digits and `-_.!~*'()` go in verbatim; other
 * characters are percent-encoded (cookie syntax forbids them) and such keys are then only
 * accepted through the x-api-key header that fetches also send.
 */
export function keyCookie(key: string): string {
  return `${COOKIE_NAME}=${encodeURIComponent(key)}; path=/; SameSite=Strict`;
}

export function rememberApiKey(key: string): void {
  try {
    localStorage.setItem(STORAGE_KEY, key);
  } catch {
    /* private mode: the cookie alone still works for this session */
  }
  document.cookie = keyCookie(key);
}

/** On start: restore the cookie from localStorage (it may have been cleared on its own). */
export function restoreApiKeyCookie(): void {
  const key = storedApiKey();
  if (key && !document.cookie.split("; ").some((c) => c.startsWith(`${COOKIE_NAME}=`))) document.cookie = keyCookie(key);
}

export function notifyUnauthorized(): void {
  window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
}
