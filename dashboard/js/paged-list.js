// A listing the API pages with next_token (keys, roles), shown a page at a time with "Load more" until no
// page remains. Starting it again (a new search) supersedes a listing still loading, so a late answer to
// an old search never mixes into the new one.
import { emptyRow, h } from "./dom.js";
import { handleAuthFailure } from "./signin-view.js";

// fetchPage(token): the API's page ({next_token, ...}); rowsOf(page): its rows; what: "keys" or "roles";
// emptyText(): the one row of an empty list. afterPage(page, rows): optional, once a page is shown.
export function pagedList({ body, pager, columns, fetchPage, rowsOf, what, emptyText, afterPage = () => {} }) {
  let token = null, generation = 0, shown = 0;
  const status = h("p", { class: "hint", role: "status" });
  const more = h("button", { type: "button", onclick: () => load(generation) }, `Load more ${what}`);

  async function load(mine) {
    more.disabled = true;
    try {
      const page = await fetchPage(token);
      if (mine !== generation) return;
      const rows = rowsOf(page);
      if (!shown) body.replaceChildren();
      body.append(...rows);
      shown += rows.length;
      if (!shown) body.append(emptyRow(columns, emptyText()));
      token = page.next_token;
      status.textContent = `${shown} ${what} shown${token ? ", more to load" : ""}.`;
      pager.replaceChildren(status, token ? more : "");
      afterPage(page, rows);
    } catch (error) {
      if (mine !== generation || handleAuthFailure(error)) return;
      if (!shown) body.replaceChildren();  // not the rows of an earlier search under this one's name
      status.textContent = error.message;
      pager.replaceChildren(status, token ? more : "");
    } finally {
      more.disabled = false;
    }
  }

  // The first page again (after a new search); resolves when it is shown.
  return function restart() {
    token = null;
    shown = 0;
    return load(++generation);
  };
}
