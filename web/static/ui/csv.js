// CSV exports, made in the browser from what the page fetched (RFC 4180:
// CRLF line ends, fields holding a comma, a quote or a line break quoted,
// quotes doubled), with a header row. A cell that a spreadsheet would run as
// a formula (one starting with = + - @, or a tab or carriage return) is
// neutralised with a leading apostrophe.

/** csvCell renders one value as a CSV field. */
export function csvCell(v) {
  let s = v === null || v === undefined ? '' : Array.isArray(v) ? v.join('; ') : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * toCSV renders a header row and data rows (arrays of values) as CSV text,
 * preceded by a byte-order mark so that spreadsheets read it as UTF-8.
 */
export function toCSV(header, rows) {
  return '\uFEFF' + [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
