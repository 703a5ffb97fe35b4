//! The D-Bus and desktop documentation keeps up with the interface and the CLI.
//!
//! - docs/dbus-api.md has a section for every method, property and signal of
//!   dbus/io.github.SurfaceCheck1.xml (the interface XML generated from the code), under
//!   the heading of its kind, showing the member's signature, with a `busctl` and a
//!   `gdbus` example that name the member; and no section for a member the interface
//!   does not have.
//! - docs/desktop.md's waybar configuration runs `surface-check waybar`, a command the
//!   binary has, and its CSS styles every status the report can give.

use std::path::Path;
use std::process::Command;

const XML: &str = "dbus/io.github.SurfaceCheck1.xml";
const INTERFACE: &str = "io.github.SurfaceCheck1";
const API_DOC: &str = "docs/dbus-api.md";
const DESKTOP_DOC: &str = "docs/desktop.md";
const SCHEMA: &str = "docs/report-schema.json";
const BIN: &str = env!("CARGO_BIN_EXE_surface-check");

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

// ---- the interface XML ----------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Method,
    Property,
    Signal,
}

impl Kind {
    /// The `##` heading of docs/dbus-api.md that holds the sections of this kind.
    fn heading(self) -> &'static str {
        match self {
            Kind::Method => "Methods",
            Kind::Property => "Properties",
            Kind::Signal => "Signals",
        }
    }
}

#[derive(Debug)]
struct Arg {
    name: Option<String>,
    ty: String,
    out: bool,
}

#[derive(Debug)]
struct Member {
    kind: Kind,
    name: String,
    /// A property's type.
    ty: String,
    args: Vec<Arg>,
}

impl Member {
    /// The signature as the documentation writes it: `GetSubsystem(s id) → s`,
    /// `Refresh()`, `SubsystemChanged(s id, s old_status, ...)`, `Overall: s`.
    fn signature(&self) -> String {
        if self.kind == Kind::Property {
            return format!("{}: {}", self.name, self.ty);
        }
        let ins: Vec<String> = self
            .args
            .iter()
            .filter(|a| !a.out)
            .map(|a| match &a.name {
                Some(n) => format!("{} {n}", a.ty),
                None => a.ty.clone(),
            })
            .collect();
        let outs: Vec<&str> = self
            .args
            .iter()
            .filter(|a| a.out)
            .map(|a| a.ty.as_str())
            .collect();
        let mut s = format!("{}({})", self.name, ins.join(", "));
        if !outs.is_empty() {
            s.push_str(&format!(" → {}", outs.join(", ")));
        }
        s
    }
}

/// The value of attribute `name` in the text of one tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let mut from = 0;
    while let Some(i) = tag[from..].find(&key) {
        let at = from + i;
        // A whole attribute name, not the end of a longer one.
        let whole = at == 0 || tag.as_bytes()[at - 1].is_ascii_whitespace();
        let start = at + key.len();
        if whole {
            let end = tag[start..].find('"')? + start;
            return Some(tag[start..end].to_string());
        }
        from = start;
    }
    None
}

/// The members of the interface [`INTERFACE`] in introspection XML: each `method`,
/// `property` and `signal` with its `arg`s. Comments are skipped; nothing else of
/// XML is needed for what the generator writes.
fn members(xml: &str) -> Vec<Member> {
    let mut text = String::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<!--") {
        text.push_str(&rest[..i]);
        rest = match rest[i..].find("-->") {
            Some(j) => &rest[i + j + 3..],
            None => "",
        };
    }
    text.push_str(rest);

    let mut out: Vec<Member> = Vec::new();
    let mut in_interface = false;
    // Whether the last member opened is still open (its args follow).
    let mut open = false;
    for piece in text.split('<').skip(1) {
        let Some((tag, _)) = piece.split_once('>') else {
            continue;
        };
        let tag = tag.trim();
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/').trim();
        let word = tag.split_whitespace().next().unwrap_or_default();
        match word {
            "interface" => in_interface = attr(tag, "name").as_deref() == Some(INTERFACE),
            "/interface" => in_interface = false,
            "method" | "property" | "signal" if in_interface => {
                let kind = match word {
                    "method" => Kind::Method,
                    "property" => Kind::Property,
                    _ => Kind::Signal,
                };
                let name =
                    attr(tag, "name").unwrap_or_else(|| panic!("{XML}: <{tag}> has no name"));
                out.push(Member {
                    kind,
                    name,
                    ty: attr(tag, "type").unwrap_or_default(),
                    args: Vec::new(),
                });
                open = !self_closing;
            }
            "/method" | "/property" | "/signal" => open = false,
            "arg" if in_interface && open => {
                let m = out.last_mut().expect("an open member");
                m.args.push(Arg {
                    name: attr(tag, "name"),
                    ty: attr(tag, "type").unwrap_or_else(|| panic!("{XML}: <{tag}> has no type")),
                    out: attr(tag, "direction").as_deref() == Some("out"),
                });
            }
            _ => {}
        }
    }
    out
}

// ---- Markdown -------------------------------------------------------------------

/// A `###` section of a Markdown document.
#[derive(Debug)]
struct Section {
    /// The first word of the heading, without backticks.
    name: String,
    /// The `##` heading it is under.
    parent: String,
    /// Its text, code blocks included.
    text: String,
    /// The lines of its code blocks, with `\`-continued lines joined.
    commands: Vec<String>,
}

fn is_fence(line: &str) -> bool {
    line.trim_start().starts_with("```")
}

/// The heading level and text of a line outside code blocks, if it is a heading.
fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.bytes().take_while(|&b| b == b'#').count();
    if level == 0 || !line[level..].starts_with(' ') {
        return None;
    }
    Some((level, line[level..].trim()))
}

fn sections(md: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut parent = String::new();
    let mut current: Option<Section> = None;
    let mut in_code = false;
    let mut pending = String::new();
    for line in md.lines() {
        if is_fence(line) {
            in_code = !in_code;
            if !in_code && !pending.is_empty() {
                if let Some(s) = current.as_mut() {
                    s.commands.push(std::mem::take(&mut pending));
                }
                pending.clear();
            }
            if let Some(s) = current.as_mut() {
                s.text.push_str(line);
                s.text.push('\n');
            }
            continue;
        }
        if !in_code && let Some((level, title)) = heading(line) {
            if level <= 3 {
                out.extend(current.take());
            }
            if level <= 2 {
                parent = title.to_string();
            }
            if level == 3 {
                let name = title
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .trim_matches('`')
                    .to_string();
                current = Some(Section {
                    name,
                    parent: parent.clone(),
                    text: String::new(),
                    commands: Vec::new(),
                });
            }
            continue;
        }
        let Some(s) = current.as_mut() else {
            continue;
        };
        s.text.push_str(line);
        s.text.push('\n');
        if in_code {
            match line.strip_suffix('\\') {
                Some(head) => {
                    pending.push_str(head);
                    pending.push(' ');
                }
                None => {
                    pending.push_str(line);
                    s.commands.push(std::mem::take(&mut pending));
                }
            }
        }
    }
    out.extend(current);
    out
}

/// Whether `word` occurs in `text` as a whole word (not inside a longer identifier).
fn has_word(text: &str, word: &str) -> bool {
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    text.match_indices(word).any(|(i, _)| {
        !ident(text[..i].chars().next_back()) && !ident(text[i + word.len()..].chars().next())
    })
}

/// The code blocks of a Markdown document, each as its text.
fn code_blocks(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in md.lines() {
        if is_fence(line) {
            match block.take() {
                Some(b) => out.push(b),
                None => block = Some(String::new()),
            }
            continue;
        }
        if let Some(b) = block.as_mut() {
            b.push_str(line);
            b.push('\n');
        }
    }
    out
}

// ---- the tests --------------------------------------------------------------------

#[test]
fn the_xml_parser_reads_every_kind_of_member() {
    let xml = r#"<node><!-- <method name="Commented"/> -->
      <interface name="org.example.Other"><method name="Elsewhere"/></interface>
      <interface name="io.github.SurfaceCheck1">
        <method name="M"><arg name="id" type="s" direction="in"/><arg type="s" direction="out"/></method>
        <method name="Bare">
        </method>
        <signal name="S"><arg name="a" type="s"/><arg name="b" type="u"/></signal>
        <property name="P" type="a(sss)" access="read">
          <annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal" value="false"/>
        </property>
        <property name="Q" type="t" access="read"/>
      </interface></node>"#;
    let sigs: Vec<String> = members(xml).iter().map(Member::signature).collect();
    assert_eq!(
        sigs,
        ["M(s id) → s", "Bare()", "S(s a, u b)", "P: a(sss)", "Q: t"]
    );
}

#[test]
fn dbus_api_md_documents_every_member_with_busctl_and_gdbus_examples() {
    let members = members(&read(XML));
    for kind in [Kind::Method, Kind::Property, Kind::Signal] {
        assert!(
            members.iter().any(|m| m.kind == kind),
            "{XML} has no {kind:?}: the parser or the file is broken"
        );
    }
    let doc = read(API_DOC);
    let sections = sections(&doc);
    let mut problems = Vec::new();

    for m in &members {
        let found: Vec<&Section> = sections.iter().filter(|s| s.name == m.name).collect();
        let s = match found.as_slice() {
            [s] => *s,
            [] => {
                problems.push(format!(
                    "{:?} {}: no `### {}` section",
                    m.kind, m.name, m.name
                ));
                continue;
            }
            _ => {
                problems.push(format!("{}: {} `###` sections", m.name, found.len()));
                continue;
            }
        };
        if s.parent != m.kind.heading() {
            problems.push(format!(
                "{}: its section is under `## {}`, not `## {}`",
                m.name,
                s.parent,
                m.kind.heading()
            ));
        }
        let sig = format!("`{}`", m.signature());
        if !s.text.contains(&sig) {
            problems.push(format!("{}: the section does not show {sig}", m.name));
        }
        for tool in ["busctl", "gdbus"] {
            if !s
                .commands
                .iter()
                .any(|c| has_word(c, tool) && has_word(c, &m.name))
            {
                problems.push(format!(
                    "{}: no `{tool}` example naming {} in a code block of its section",
                    m.name, m.name
                ));
            }
        }
    }

    // No section for a member the interface does not have (renamed, removed).
    for s in &sections {
        let kind = [Kind::Method, Kind::Property, Kind::Signal]
            .into_iter()
            .find(|k| k.heading() == s.parent);
        if let Some(kind) = kind
            && !members.iter().any(|m| m.kind == kind && m.name == s.name)
        {
            problems.push(format!(
                "`### {}` under `## {}`: {XML} has no such {kind:?}",
                s.name, s.parent
            ));
        }
    }

    assert!(
        problems.is_empty(),
        "{API_DOC} does not match {XML}:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_section_parser_joins_continued_commands_and_keeps_headings_out_of_code() {
    let md = "## Methods\n\n### `Refresh`\n\n`Refresh()`\n\n```\n# a comment, not a heading\n$ gdbus call --system \\\n    --method io.github.SurfaceCheck1.Refresh\n()\n```\n\n## Other\n\ntext\n";
    let s = sections(md);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].name, "Refresh");
    assert_eq!(s[0].parent, "Methods");
    assert!(s[0].text.contains("`Refresh()`"));
    assert!(
        s[0].commands
            .iter()
            .any(|c| has_word(c, "gdbus") && has_word(c, "Refresh")),
        "{:?}",
        s[0].commands
    );
    assert!(
        !s[0].text.contains("text"),
        "the next `##` ends the section"
    );
    assert!(has_word("x.Refresh y", "Refresh"));
    assert!(!has_word("RefreshAll", "Refresh"));
    assert!(!has_word("GetSubsystems", "GetSubsystem"));
}

/// The waybar module's configuration in docs/desktop.md: its name (`custom/...`) and
/// its `exec` and `return-type` values.
fn waybar_module(md: &str) -> (String, String, String) {
    let value = |line: &str, key: &str| -> Option<String> {
        let rest = line.trim().strip_prefix(&format!("\"{key}\""))?;
        let rest = rest.trim_start().strip_prefix(':')?.trim_start();
        let rest = rest.strip_prefix('"')?;
        Some(rest[..rest.find('"')?].to_string())
    };
    let blocks = code_blocks(md);
    let block = blocks
        .iter()
        .find(|b| b.contains("\"custom/") && b.contains("\"exec\""))
        .unwrap_or_else(|| {
            panic!(
                "{DESKTOP_DOC}: no code block with a waybar `custom/...` module and its \"exec\""
            )
        });
    let name = block
        .lines()
        .find_map(|l| {
            let l = l.trim().strip_prefix("\"custom/")?;
            let (n, rest) = l.split_once('"')?;
            rest.trim_start()
                .starts_with(':')
                .then(|| format!("custom/{n}"))
        })
        .unwrap_or_else(|| {
            panic!("{DESKTOP_DOC}: the waybar block defines no \"custom/...\": {{ }}")
        });
    let exec = block
        .lines()
        .find_map(|l| value(l, "exec"))
        .expect("the module's \"exec\"");
    let return_type = block
        .lines()
        .find_map(|l| value(l, "return-type"))
        .unwrap_or_default();
    (name, exec, return_type)
}

#[test]
fn desktop_md_waybar_module_runs_the_clis_waybar_command() {
    let doc = read(DESKTOP_DOC);
    let (name, exec, return_type) = waybar_module(&doc);
    assert_eq!(
        exec, "surface-check waybar",
        "{DESKTOP_DOC}: the waybar module's \"exec\""
    );
    assert_eq!(
        return_type, "json",
        "{DESKTOP_DOC}: `surface-check waybar` writes JSON lines: \"return-type\": \"json\""
    );

    // The command exists, with the option the page tells session-bus users to add.
    let out = Command::new(BIN)
        .args(["waybar", "--help"])
        .env("NO_COLOR", "1")
        .output()
        .expect("running surface-check waybar --help");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "`surface-check waybar --help` failed ({}): {}{}",
        out.status,
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Usage: surface-check waybar"),
        "`surface-check waybar --help`:\n{stdout}"
    );
    if doc.contains("surface-check waybar --session") {
        assert!(
            stdout.contains("--session"),
            "{DESKTOP_DOC} uses `waybar --session`, which the CLI lacks:\n{stdout}"
        );
    }

    // One CSS rule per status: `class` is the overall status.
    let schema: serde_json::Value =
        serde_json::from_str(&read(SCHEMA)).unwrap_or_else(|e| panic!("{SCHEMA}: {e}"));
    let statuses = schema["$defs"]["status"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{SCHEMA}: no $defs.status.enum"));
    assert!(!statuses.is_empty());
    let selector = format!("#{}", name.replace('/', "-"));
    let missing: Vec<String> = statuses
        .iter()
        .map(|s| format!("{selector}.{}", s.as_str().expect("a status is a string")))
        .filter(|rule| !doc.contains(rule.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{DESKTOP_DOC}: no CSS rule for {}",
        missing.join(", ")
    );
}
