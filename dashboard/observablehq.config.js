// cartera's dashboard (Observable Framework): three pages built from the data
// loaders in src/data/, which read cartera's views and functions with psql in
// the $PG* environment.  No font or script comes from outside the build: the
// dashboard must open where only the database and this server are reachable.
export default {
  title: "cartera",
  root: "src",
  output: process.env.CARTERA_DASHBOARD_OUT ?? "dist",
  pages: [
    {name: "Portfolio", path: "/index"},
    {name: "Predictive", path: "/predictive"},
    {name: "Agents", path: "/agents"}
  ],
  globalStylesheets: [],
  head: '<link rel="icon" href="data:,">',
  footer: "cartera: the portfolio as of its last refresh, read from cartera's views.",
  theme: ["air", "near-midnight"],
  preserveExtension: true,
  search: false
};
