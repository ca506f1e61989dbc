// #/keys?status=&name=: the environment's keys, newest first, 25 at a time, by status and found by name. The
// search runs on the server (?name=: the name contains it, ignoring case) as the person types, once they
// pause; the status is the API's own filter (?status=; none: every status but revoked). Both are kept in the
// address, so a reload or a link shows the same list, and a leaked key revoked long ago is found by its name
// under Revoked.
import { api, listPath } from "./api.js";
import { openCreateDialog } from "./create-key-dialog.js";
import { ago, cell, h, row, stackedTable } from "./dom.js";
import { confirmDelete, openRoll } from "./key-actions.js";
import { STATUS_CHOICES, statusView } from "./key-status.js";
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
    cell("Created", ago(key.created_at)),
    cell("Last used", ago(key.last_used_at, "never")),
    cell("Expires", ago(key.expires_at, "never")),
    status,
    cell("Actions", h("div", { class: "rowactions" },
      key.status === "active"
        ? h("button", { type: "button", class: "link", onclick: () => openRoll(key), "aria-label": `Roll ${key.name}` }, "Roll")
        : null,
      key.status === "revoked"
        ? null
        : h("button", { type: "button", class: "link", onclick: () => confirmDelete(key), "aria-label": `Delete ${key.name}` }, "Delete"))));
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

// The list's address: what it shows, so a reload or a link shows it again.
function listAddress(status, name) {
  const query = new URLSearchParams();
  if (status) query.set("status", status);
  if (name) query.set("name", name);
  const text = query.toString();
  return text ? `#/keys?${text}` : "#/keys";
}

// One radio per status (a segmented control): the API filters, so paging and the name search work within it.
function statusFilter(current, onChoose) {
  return h("fieldset", { class: "segmented statusfilter" }, h("legend", { class: "sr" }, "Status"),
    STATUS_CHOICES.map(([value, text]) => h("label", { class: "segment" },
      h("input", { type: "radio", name: "keys-status", value, checked: value === current, onchange: () => onChoose(value) }),
      text)));
}

export async function renderKeys(main, _params, query) {
  const addButton = h("button", { type: "button", class: "black", id: "add-key", onclick: openCreateDialog }, "+ Add new API key");
  main.append(h("div", { class: "pagehead" }, h("h1", {}, "API Keys"), addButton));
  const known = STATUS_CHOICES.map(([value]) => value);
  let shownStatus = known.includes(query.get("status")) ? query.get("status") : "";
  const search = h("input", { id: "keys-search", type: "search", maxlength: KEY_NAME_MAX_LENGTH, spellcheck: "false",
    autocomplete: "off", value: query.get("name") || "", "aria-describedby": "keys-search-hint" });
  main.append(h("div", { class: "listbar" },
    h("div", { class: "searchbar", role: "search" }, h("label", { for: "keys-search" }, "Search by name"), search,
      h("p", { class: "hint", id: "keys-search-hint" }, "Keys whose name contains this text, ignoring case.")),
    statusFilter(shownStatus, (value) => {
      shownStatus = value;
      history.replaceState(null, "", listAddress(shownStatus, shownName));
      restart();
    })));
  const body = h("tbody", { role: "rowgroup" });
  const pager = h("div", { class: "pager" });
  main.append(stackedTable("API keys", COLUMNS, body), pager);

  // The name of the search shown: "Load more" continues it even while a new one is being typed (a paging
  // token is bound to its search).
  let shownName = search.value.trim();
  const which = () => (shownStatus ? ` ${shownStatus}` : "");
  const restart = pagedList({
    body, pager, columns: COLUMNS, what: "keys",
    fetchPage: (token) => api("GET", listPath("/keys", { limit: PAGE_SIZE, status: shownStatus, name: shownName, next_token: token })),
    rowsOf: (page) => page.keys.map(keyRow),
    afterPage: (page, rows) => addLeakLines(page.keys, rows),
    emptyText: () => (shownName ? `No${which()} keys whose name contains “${shownName}”.` : `No${which()} keys${shownStatus ? "" : " yet"}.`),
  });
  let pause = null;
  search.addEventListener("input", () => {
    clearTimeout(pause);
    pause = setTimeout(() => {
      if (!search.isConnected || search.value.trim() === shownName) return;  // left the page; or no change
      shownName = search.value.trim();
      // The address follows the search without a new history entry per keystroke (and without routing).
      history.replaceState(null, "", listAddress(shownStatus, shownName));
      restart();
    }, SEARCH_PAUSE_MS);
  });
  await restart();
}
