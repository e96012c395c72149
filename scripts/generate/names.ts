/** `workspace.file_changed` → `WorkspaceFileChanged`: the stem of a method's definitions. */
export function pascal(name: string): string {
  return name
    .split(/[._\-:]+/)
    .filter((part) => part !== '')
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
}
