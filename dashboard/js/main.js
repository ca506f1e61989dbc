// Archie API keys dashboard: native ES modules, no build step, only the public API. This module wires the
// page together; each view lives in its own module.
import { renderAudit } from "./audit-view.js";
import { initCreateDialog } from "./create-key-dialog.js";
import { renderKeyDetail } from "./key-detail-view.js";
import { renderKeys } from "./keys-view.js";
import { renderNewRole, renderRoleEditor } from "./role-editor-view.js";
import { renderRoles } from "./roles-view.js";
import { defineRoutes, route } from "./router.js";
import { initSecretDialog } from "./secret-dialog.js";
import { handleAuthFailure, startSignIn } from "./signin-view.js";
import { renderWebhook, renderWebhooks } from "./webhooks-view.js";

// "new-role" is outside #/roles/ because "new" is a valid role name.
const keys = { path: /^(keys)?$/, nav: "keys", title: () => "API Keys", render: renderKeys };
defineRoutes([
  keys,
  { path: /^keys\/([^/]+)$/, nav: "keys", title: ([id]) => `Key ${id}`, render: renderKeyDetail },
  { path: /^audit$/, nav: "audit", title: () => "Audit", render: renderAudit },
  { path: /^roles$/, nav: "roles", title: () => "Roles", render: renderRoles },
  { path: /^roles\/([^/]+)$/, nav: "roles", title: ([name]) => `Role ${name}`, render: renderRoleEditor },
  { path: /^new-role$/, nav: "roles", title: () => "New role", render: renderNewRole },
  { path: /^webhooks$/, nav: "webhooks", title: () => "Webhooks", render: renderWebhooks },
  { path: /^webhooks\/([^/]+)$/, nav: "webhooks", title: ([name]) => `Webhook ${name}`, render: renderWebhook },
], { notFound: keys, handleError: handleAuthFailure });

initCreateDialog();
initSecretDialog();
document.querySelectorAll("dialog [data-close]").forEach((button) =>
  button.addEventListener("click", () => button.closest("dialog").close()));
window.addEventListener("hashchange", route);
startSignIn();
