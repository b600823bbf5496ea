/** "Depends on::Used by" (ServiceNow's parent::child descriptors) → depends_on; depends_on stays. */
export function relationType(display: string): string {
  return display
    .split('::')[0]!
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');
}
