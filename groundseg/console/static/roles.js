// Who may press what, so the console can grey out what the server would refuse and say
// why. The role x endpoint matrix comes from the server (`GET /api/me` answers it as
// `access`, from groundseg/api/access.py); the server still decides, and a pad command also
// needs one of the roles its policy lists.

/**
 * Why the user may not call an endpoint (and, for a pad command, send that command), or
 * "" when they may.
 */
export function whyNot(store, endpoint, command = null) {
  const mine = store.me.roles;
  const allowed = store.me.access?.[endpoint] ?? [];
  if (!allowed.some((r) => mine.includes(r))) return needs(allowed, mine);
  if (command && Array.isArray(command.roles) && !command.roles.some((r) => mine.includes(r))) {
    return `${command.id}: ${needs(command.roles, mine)}`;
  }
  return "";
}

function needs(roles, mine) {
  const list = roles.length > 1 ? `${roles.slice(0, -1).join(", ")} or ${roles[roles.length - 1]}` : roles[0] ?? "no role";
  return `needs role ${list} (you: ${mine.join(", ") || "no role"})`;
}

/** Disable a button with the reason as its tooltip, or enable it with its normal title. */
export function gate(button, reason, title = "") {
  button.disabled = Boolean(reason);
  button.title = reason || title;
  button.dataset.why = reason || "";
}
