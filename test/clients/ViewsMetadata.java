// What a BI tool (Metabase, Power BI, DBeaver...) sees of cartera's views
// through the PostgreSQL JDBC driver: every view and column listed by
// DatabaseMetaData with its comment (REMARKS), and every value readable as a
// plain type.  One TAP line per check; run with
//   java -cp /usr/share/java/postgresql.jar ViewsMetadata.java JDBC_URL
import java.sql.*;
import java.util.*;

public class ViewsMetadata {
    static int n = 0, failed = 0;

    static void ok(boolean cond, String what, String diag) {
        n++;
        if (cond) System.out.println("ok " + n + " - " + what);
        else { failed++; System.out.println("not ok " + n + " - " + what); if (diag != null) System.out.println("# " + diag); }
    }

    public static void main(String[] args) throws Exception {
        try (Connection c = DriverManager.getConnection(args[0])) {
            DatabaseMetaData md = c.getMetaData();
            List<String> views = new ArrayList<>();
            List<String> noComment = new ArrayList<>();
            try (ResultSet rs = md.getTables(null, "cartera", "%", new String[] {"VIEW"})) {
                while (rs.next()) {
                    views.add(rs.getString("TABLE_NAME"));
                    String r = rs.getString("REMARKS");
                    if (r == null || r.isEmpty()) noComment.add(rs.getString("TABLE_NAME"));
                }
            }
            ok(views.size() >= 15, "DatabaseMetaData lists cartera's views (" + views.size() + ")", null);
            ok(noComment.isEmpty(), "every view has its comment as REMARKS", "without: " + noComment);
            for (String v : views) {
                List<String> bare = new ArrayList<>(), odd = new ArrayList<>(), names = new ArrayList<>(), intervals = new ArrayList<>();
                int cols = 0;
                try (ResultSet rs = md.getColumns(null, "cartera", v, "%")) {
                    while (rs.next()) {
                        cols++;
                        String r = rs.getString("REMARKS");
                        if (r == null || r.isEmpty()) bare.add(rs.getString("COLUMN_NAME"));
                        // a JDBC type a BI tool shows: not OTHER/STRUCT/JAVA_OBJECT (a composite or unknown type)
                        // (an interval is OTHER in JDBC: allowed when the view gives it as seconds too, below)
                        int t = rs.getInt("DATA_TYPE");
                        names.add(rs.getString("COLUMN_NAME"));
                        if ("interval".equals(rs.getString("TYPE_NAME")))
                            intervals.add(rs.getString("COLUMN_NAME"));
                        else if (t == Types.OTHER || t == Types.STRUCT || t == Types.JAVA_OBJECT || t == Types.DISTINCT)
                            odd.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME"));
                    }
                }
                ok(cols > 0 && bare.isEmpty(), v + ": every column (" + cols + ") has its comment", "without: " + bare);
                for (String i : intervals)
                    if (!names.contains(i + "_seconds")) odd.add(i + ":interval without " + i + "_seconds");
                ok(odd.isEmpty(), v + ": every column has a type a BI tool can show (intervals also as seconds: " + intervals.size() + ")",
                   "other/composite: " + odd);
                int rows = 0;
                List<String> unreadable = new ArrayList<>();
                try (Statement s = c.createStatement();
                     ResultSet rs = s.executeQuery("SELECT * FROM cartera." + v + " LIMIT 200")) {
                    ResultSetMetaData m = rs.getMetaData();
                    while (rs.next()) {
                        rows++;
                        for (int i = 1; i <= m.getColumnCount(); i++) {
                            Object o = rs.getObject(i);
                            String txt = rs.getString(i);
                            if (o != null && (txt == null || o.getClass().getName().startsWith("org.postgresql.util.PGobject")))
                                if (!unreadable.contains(m.getColumnName(i))) unreadable.add(m.getColumnName(i) + ":" + m.getColumnTypeName(i));
                        }
                    }
                }
                ok(unreadable.isEmpty(), v + ": every value of " + rows + " rows reads as a plain Java type", "as PGobject: " + unreadable);
            }
        }
        System.out.println("1.." + n);
        System.exit(failed == 0 ? 0 : 1);
    }
}
