/**
 * Asks for the API key when the server answers 401 (issue: servers started with --api-key).
 * The key is kept in localStorage and set as the `msgtrace_key` cookie (path=/, SameSite=Strict),
 * which the server accepts, so fetches and the live EventSource both carry it; then the page
 * reloads once so every query and the live stream start again authenticated.
 */
import { useEffect, useState } from "react";
import { UNAUTHORIZED_EVENT, rememberApiKey, storedApiKey } from "@/api/auth";

export function ApiKeyPrompt() {
  const [open, setOpen] = useState(false);
  const [key, setKey] = useState("");
  const [wrong, setWrong] = useState(false);

  useEffect(() => {
    const onUnauthorized = () => {
      setWrong(storedApiKey() !== null);
      setOpen(true);
    };
    window.addEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
  }, []);

  if (!open) return null;
  return (
    <div className="modal-backdrop">
      <form
        className="modal panel"
        role="dialog"
        aria-label="API key required"
        data-testid="api-key-prompt"
        onSubmit={(e) => {
          e.preventDefault();
          if (!key.trim()) return;
          rememberApiKey(key.trim());
          window.location.reload();
        }}
      >
        <h2>API key required</h2>
        <p className="muted">This msgtrace server was started with an API key. Enter it once; this browser remembers it.</p>
        {wrong && <p className="error-text">The stored key was rejected; enter the current one.</p>}
        <input type="password" autoFocus value={key} onChange={(e) => setKey(e.target.value)} aria-label="API key" data-testid="api-key-input" style={{ width: "100%" }} />
        <div className="modal-actions">
          <button type="submit" className="btn btn-primary" data-testid="api-key-submit" disabled={!key.trim()}>
            Sign in
          </button>
        </div>
      </form>
    </div>
  );
}
