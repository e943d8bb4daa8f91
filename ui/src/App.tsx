import { Route, Routes } from "react-router";
import { ComparePage } from "@/ComparePage/ComparePage";
import { DashboardPage } from "@/DashboardPage/DashboardPage";
import { ImportPage } from "@/ImportPage/ImportPage";
import { Shell } from "@/layout/Shell";
import { TracePage } from "@/TracePage/TracePage";
import { TracesPage } from "@/TracesPage/TracesPage";
import { WorkflowPage } from "@/WorkflowPage/WorkflowPage";
import { EmptyState } from "@/components/States";

export function App() {
  return (
    <Routes>
      <Route element={<Shell />}>
        <Route index element={<DashboardPage />} />
        <Route path="traces" element={<TracesPage />} />
        <Route path="traces/:traceId" element={<TracePage />} />
        <Route path="compare" element={<ComparePage />} />
        <Route path="workflows/:name" element={<WorkflowPage />} />
        <Route path="import" element={<ImportPage />} />
        <Route path="*" element={<EmptyState title="Page not found" hint="Use the navigation above." />} />
      </Route>
    </Routes>
  );
}
