//! Output formats: `table` (sized to the terminal), `json`, `jsonl` and `csv`.

use serde_json::Value;

/// How a command prints what it read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns, cut to the terminal's width.
    Table,
    /// One JSON document (an array for lists).
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header line (RFC 4180 quoting).
    Csv,
}

/// A column: its header and the path of its value in the object's JSON (`a.b`).
pub type Column = (&'static str, &'static str);

/// The text of the value at `path` (dot separated) in `item`.
pub fn field(item: &Value, path: &str) -> String {
    let mut cur = item;
    for part in path.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

/// Prints a list of objects.
pub fn list(format: Format, items: &[Value], columns: &[Column]) {
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&Value::Array(items.to_vec())).unwrap_or_default()
        ),
        Format::Jsonl => {
            for item in items {
                println!("{item}");
            }
        }
        Format::Csv => print!("{}", csv(items, columns)),
        Format::Table => print!("{}", table(items, columns, terminal_width())),
    }
}

/// Prints one object: a list of one for `table`/`csv`/`jsonl`, the object for `json`.
pub fn one(format: Format, item: &Value, columns: &[Column]) {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(item).unwrap_or_default()),
        _ => list(format, std::slice::from_ref(item), columns),
    }
}

/// Serializes anything the SDK returns to JSON.
pub fn to_value(item: &impl serde::Serialize) -> Value {
    serde_json::to_value(item).unwrap_or(Value::Null)
}

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// CSV text of `items`.
pub fn csv(items: &[Value], columns: &[Column]) -> String {
    let mut out = String::new();
    let header: Vec<String> = columns.iter().map(|(h, _)| csv_cell(h)).collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for item in items {
        let row: Vec<String> = columns
            .iter()
            .map(|(_, p)| csv_cell(&field(item, p)))
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// The terminal's width: `COLUMNS`, else the tty's, else unlimited.
pub fn terminal_width() -> Option<usize> {
    if let Some(cols) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
    {
        return Some(cols);
    }
    // SAFETY: TIOCGWINSZ fills a winsize struct we own; a failure leaves it zeroed.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) == 0 && size.ws_col > 0 {
            return Some(size.ws_col as usize);
        }
    }
    None
}

fn cut(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut s: String = text.chars().take(width - 1).collect();
    s.push('…');
    s
}

/// Aligned columns; when wider than `width`, the widest columns are narrowed first.
pub fn table(items: &[Value], columns: &[Column], width: Option<usize>) -> String {
    let cells: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|(_, p)| field(item, p).replace(['\n', '\r'], " "))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = columns.iter().map(|(h, _)| h.chars().count()).collect();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    if let Some(max) = width {
        let gaps = 2 * columns.len().saturating_sub(1);
        while widths.iter().sum::<usize>() + gaps > max {
            let (i, w) = widths
                .iter()
                .enumerate()
                .max_by_key(|(_, w)| **w)
                .map(|(i, w)| (i, *w))
                .unwrap_or((0, 0));
            if w <= 4 {
                break;
            }
            widths[i] = w - 1;
        }
    }
    let line = |row: Vec<String>| -> String {
        let parts: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c = cut(c, widths[i]);
                let pad = widths[i] - c.chars().count();
                format!("{c}{}", " ".repeat(pad))
            })
            .collect();
        format!("{}\n", parts.join("  ").trim_end())
    };
    let mut out = line(columns.iter().map(|(h, _)| h.to_string()).collect());
    for row in cells {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_table_fits() {
        let items = vec![serde_json::json!({"a": "x,y", "b": {"c": 3}})];
        let cols: &[Column] = &[("A", "a"), ("C", "b.c")];
        assert_eq!(csv(&items, cols), "A,C\n\"x,y\",3\n");
        let t = table(&items, &[("A", "a"), ("LONGHEADER", "b.c")], Some(10));
        assert!(t.lines().all(|l| l.chars().count() <= 10), "{t}");
    }
}
