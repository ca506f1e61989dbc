// #/keys?name=: the environment's keys, newest first, 25 at a time, found by name. The search runs on the
// server (?name=: the name contains it, ignoring case) as the person types, once they pause, and is kept in
// the address, so a reload or a link shows the same search.
import { api, listPath } from "./api.js";
import { openCreateDialog } from "./create-key-dialog.js";
import { cell, fmt, h, row, stackedTable } from "./dom.js";
import { confirmDelete, openRoll } from "./key-actions.js";
import { statusView } from "./key-status.js";
import { keyEvents, leakOf, leakSummary } from "./leak-info.js";
import { pagedList } from "./paged-list.js";
import { KEY_NAME_MAX_LENGTH } from "./validation.js";

const COLUMNS = ["Name", "Start", "Roles", "Created", "Last used", "Expires", "Status", "Actions"];
const PAGE_SIZE = 25;
const SEARCH_PAUSE_MS = 300;

function keyRow(key) {
  const status = cell("Status", statusView(key), { class: "wrap" });
  return row({ "data-key-id": key.key_id },
    cell("Name", h("a", { href: `#/keys/${encodeURIComponent(key.key_id)}` }, key.name), { class: "wrap" }),
    cell("Start", h("code", {}, key.start + "…")),
    cell("Roles", key.roles.join(", "), { class: "wrap" }),
    cell("Created", fmt(key.created_at)),
    cell("Last used", fmt(key.last_used_at)),
    cell("Expires", fmt(key.expires_at)),
    status,
    cell("Actions", h("div", { class: "rowactions" },
      key.status === "active"
        ? h("button", { type: "button", class: "link", onclick: () => openRoll(key), "aria-label": `Roll ${key.name}` }, "Roll")
        : null,
      h("button", { type: "button", class: "link", onclick: () => confirmDelete(key), "aria-label": `Delete ${key.name}` }, "Delete"))));
}

// Where a leaked key of this page was found, from its key.leaked event: one request per leaked key shown
// (rare), after the page is on screen.
function addLeakLines(keys, rows) {
  keys.forEach((key, i) => {
    if (!key.leaked_at) return;
    keyEvents(key.key_id).then((events) => {
      const leak = leakOf(events);
      if (leak) rows[i].querySelector(".status").append(h("br"), leakSummary(leak));
    }).catch(() => {});  // the badge stays; the key's page says more, or why it cannot
  });
}

export async function renderKeys(main, _params, query) {
  const addButton = h("button", { type: "button", class: "black", id: "add-key", onclick: openCreateDialog }, "+ Add new API key");
  main.append(h("div", { class: "pagehead" }, h("h1", {}, "API Keys"), addButton));
  const search = h("input", { id: "keys-search", type: "search", maxlength: KEY_NAME_MAX_LENGTH, spellcheck: "false",
    autocomplete: "off", value: query.get("name") || "", "aria-describedby": "keys-search-hint" });
  main.append(h("div", { class: "searchbar", role: "search" }, h("label", { for: "keys-search" }, "Search by name"), search,
    h("p", { class: "hint", id: "keys-search-hint" }, "Keys whose name contains this text, ignoring case.")));
  const body = h("tbody", { role: "rowgroup" });
  const pager = h("div", { class: "pager" });
  main.append(stackedTable("API keys", COLUMNS, body), pager);

  // The name of the search shown: "Load more" continues it even while a new one is being typed (a paging
  // token is bound to its search).
  let shownName = search.value.trim();
  const restart = pagedList({
    body, pager, columns: COLUMNS, what: "keys",
    fetchPage: (token) => api("GET", listPath("/keys", { limit: PAGE_SIZE, name: shownName, next_token: token })),
    rowsOf: (page) => page.keys.map(keyRow),
    afterPage: (page, rows) => addLeakLines(page.keys, rows),
    emptyText: () => (shownName ? `No keys whose name contains “${shownName}”.` : "No keys yet."),
  });
  let pause = null;
  search.addEventListener("input", () => {
    clearTimeout(pause);
    pause = setTimeout(() => {
      if (!search.isConnected || search.value.trim() === shownName) return;  // left the page; or no change
      shownName = search.value.trim();
      // The address follows the search without a new history entry per keystroke (and without routing).
      history.replaceState(null, "", shownName ? `#/keys?name=${encodeURIComponent(shownName)}` : "#/keys");
      restart();
    }, SEARCH_PAUSE_MS);
  });
  await restart();
}
