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
