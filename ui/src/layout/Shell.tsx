import { NavLink, Outlet } from "react-router";
import { useLiveUpdates } from "@/api/live";
import { ApiKeyPrompt } from "@/components/ApiKeyPrompt";

export function Shell() {
  const live = useLiveUpdates();
  return (
    <div className="shell">
      <header className="topbar">
        <NavLink to="/" className="brand" end>
          <span className="brand-mark" aria-hidden="true" />
          msgtrace
        </NavLink>
        <nav className="topnav">
          <NavLink to="/" end>
            Dashboard
          </NavLink>
          <NavLink to="/traces">Traces</NavLink>
          <NavLink to="/compare">Compare</NavLink>
          <NavLink to="/import">Import</NavLink>
        </nav>
        <span className={`live-dot live-${live}`} title={`Live updates: ${live}`} data-testid="live-status">
          {live === "open" ? "Live" : live === "connecting" ? "Connecting…" : "Offline"}
        </span>
      </header>
      <main className="content">
        <Outlet />
      </main>
      <ApiKeyPrompt />
    </div>
  );
}
