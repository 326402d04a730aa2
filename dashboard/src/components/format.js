// Number formats shared by the pages.  Figures the browser test compares with
// SQL are printed with these: integers and amounts in en-US grouping.
const integerFormat = new Intl.NumberFormat("en-US", {maximumFractionDigits: 0});
const amountFormat = new Intl.NumberFormat("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
const percentFormat = new Intl.NumberFormat("en-US", {style: "percent", maximumFractionDigits: 1});

export const integer = (x) => (x == null ? "–" : integerFormat.format(x));
export const amount = (x) => (x == null ? "–" : amountFormat.format(x));
export const percent = (x) => (x == null ? "–" : percentFormat.format(x));

// the colours of cartera's alerts (cartera.alert_kind.colour), in their order
export const alertColours = {
  domain: ["red", "amber", "green", "blue"],
  range: ["#d62728", "#ff9f1c", "#2ca02c", "#1f77b4"]
};

// life-cycle statuses in cartera's order (cartera.lifecycle_summary.status_order)
export const statusOrder = ["lead", "new", "active", "reactivated", "at_risk", "dormant", "lost"];

// A DOM element: el("p", {class: "x"}, "text", child, ...).  The pages build
// their few loops of cards with it (the implicit html`` of Observable
// Framework would be fetched from a CDN at build time; this machine, and a
// dashboard behind a firewall, has none).
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children.flat()) node.append(child instanceof Node ? child : String(child));
  return node;
}

// A plain HTML table of rows: columns is [[field, header, format?], ...].
// Numbers are right-aligned; the theme styles the table.
export function table(rows, columns) {
  const cell = (tag, value, numeric) => el(tag, numeric ? {style: "text-align: right"} : {}, value);
  return el("table", {class: "data"},
    el("thead", {}, el("tr", {}, columns.map(([field, header]) =>
      cell("th", header, rows.length > 0 && typeof rows[0][field] === "number")))),
    el("tbody", {}, rows.map((row) => el("tr", {}, columns.map(([field, , format]) =>
      cell("td", row[field] == null ? "–" : format ? format(row[field]) : row[field], typeof row[field] === "number"))))));
}

// colours of the life-cycle statuses, from new business to lost
export const statusColours = {
  domain: statusOrder,
  range: ["#9e9e9e", "#6baed6", "#2ca02c", "#17becf", "#ffbb33", "#ff7f0e", "#d62728"]
};
