// What a role's permissions ({resource, actions, filters}) mean, for the pages that explain them: which
// context values a role reads, and what an edit would grant that the role did not grant before.

// The context names a role's filters read ({"from_context": name}), sorted.
export function contextNamesRead(permissions) {
  const names = new Set();
  for (const permission of permissions) {
    for (const value of Object.values(permission.filters || {})) {
      if (value && typeof value === "object" && typeof value.from_context === "string") names.add(value.from_context);
    }
  }
  return [...names].sort();
}

// Filter values are equal when they are the same literal of the same type ("1" is not 1), or both read
// the same context name (the same key fills both the same way).
function sameValue(a, b) {
  if (a && typeof a === "object") return Boolean(b) && typeof b === "object" && a.from_context === b.from_context;
  return typeof a === typeof b && a === b;
}

// Does `granted` allow `action` on `resource` on at least the rows `filters` selects? It does when every
// filter it imposes is also imposed, with the same value, by `filters` (fewer filters = more rows). "*"
// covers every named resource; only "*" covers "*". The server's escalation check uses the same rule.
function covers(granted, resource, action, filters) {
  const resourceCovered = granted.resource === resource || (granted.resource === "*" && resource !== "*");
  if (!resourceCovered || !granted.actions.includes(action)) return false;
  return Object.entries(granted.filters || {}).every(([field, value]) => field in filters && sameValue(filters[field], value));
}

// What `after` grants that `before` did not, in words: "write on orders", "read on orders with filter
// tenant_id removed". Empty when the edit only narrows or keeps what the role grants.
export function widenings(before, after) {
  const found = [];
  for (const permission of after) {
    const filters = permission.filters || {};
    for (const action of permission.actions) {
      if (before.some((granted) => covers(granted, permission.resource, action, filters))) continue;
      const what = `${action} on ${permission.resource}`;
      const same = before.find((granted) => granted.resource === permission.resource && granted.actions.includes(action));
      if (!same) { found.push(what); continue; }
      const changes = Object.entries(same.filters || {})
        .filter(([field, value]) => !(field in filters && sameValue(filters[field], value)))
        .map(([field]) => `filter ${field} ${field in filters ? "changed" : "removed"}`);
      found.push(`${what} with ${changes.join(", ")}`);
    }
  }
  return [...new Set(found)];
}
