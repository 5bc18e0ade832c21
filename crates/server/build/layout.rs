//! Owns the hosted pages' one layout: how `web/layout.html` and a page source of `web/pages/`
//! become the document that is compiled into the binary. `build.rs` runs it at build time; the
//! crate's tests include this same file and check its rules.
//!
//! A page source opens with a comment of settings, one `key: value` a line, then the page's
//! `<main>`, as it appears in the document:
//!
//! ```text
//! <!--
//!   title: Token inspector
//!   script: inspect.js
//!   stylesheet: inspect.css
//!   current: /inspect
//! -->
//!   <main>…</main>
//! ```
//!
//! - `title` (required): the page's own title; the layout adds the site name.
//! - `script` (required): the page's module under `/assets/`.
//! - `stylesheet` (any number): stylesheets under `/assets/` beyond the layout's.
//! - `current` (optional): the path of the nav link marked `aria-current="page"`; without it no
//!   link is marked (the login page belongs to no section).
//!
//! The layout fills `{{title}}` and `{{script}}` where they stand, and replaces the lines
//! `{{stylesheets}}` and `{{main}}` (their indentation is kept for the stylesheets). Nothing
//! is evaluated and no value reaches the document unchecked: a title is plain text, asset names
//! are plain file names, and anything the layout or a source leaves unexplained fails the
//! build with the file named.

/// The settings comment of a page source, parsed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Settings<'a> {
    /// The page's title, without the site name.
    pub(crate) title: &'a str,
    /// The page's script module (a name under `/assets/`).
    pub(crate) script: &'a str,
    /// Extra stylesheets (names under `/assets/`), in order.
    pub(crate) stylesheets: Vec<&'a str>,
    /// The nav link marked as the current page, if any.
    pub(crate) current: Option<&'a str>,
}

/// A page source: its settings and its `<main>` (kept byte for byte).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PageSource<'a> {
    /// The settings comment.
    pub(crate) settings: Settings<'a>,
    /// Everything after the settings comment.
    pub(crate) main: &'a str,
}

/// Splits a page source into its settings and its body.
pub(crate) fn parse_source(source: &str) -> Result<PageSource<'_>, String> {
    let rest = source
        .strip_prefix("<!--\n")
        .ok_or("a page source opens with a settings comment: `<!--` alone on the first line")?;
    let (head, main) = rest
        .split_once("\n-->\n")
        .ok_or("the settings comment is closed by `-->` alone on a line")?;
    let mut title = None;
    let mut script = None;
    let mut stylesheets = Vec::new();
    let mut current = None;
    for line in head.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (key, value) = line
            .split_once(':')
            .map(|(k, v)| (k.trim(), v.trim()))
            .ok_or_else(|| format!("`{line}`: a setting is `key: value`"))?;
        match key {
            "title" => once(&mut title, key, text(value)?)?,
            "script" => once(&mut script, key, asset_name(value, ".js")?)?,
            "stylesheet" => stylesheets.push(asset_name(value, ".css")?),
            "current" => once(&mut current, key, nav_path(value)?)?,
            other => {
                return Err(format!(
                    "unknown setting `{other}` (title, script, stylesheet, current)"
                ));
            }
        }
    }
    Ok(PageSource {
        settings: Settings {
            title: title.ok_or("`title` is missing")?,
            script: script.ok_or("`script` is missing")?,
            stylesheets,
            current,
        },
        main,
    })
}

/// Sets a setting that may be given once.
fn once<'a>(slot: &mut Option<&'a str>, key: &str, value: &'a str) -> Result<(), String> {
    if slot.replace(value).is_some() {
        Err(format!("`{key}` is given twice"))
    } else {
        Ok(())
    }
}

/// The document: the layout filled with one page.
pub(crate) fn assemble(layout: &str, page: &PageSource<'_>) -> Result<String, String> {
    let settings = &page.settings;
    let mut out = String::with_capacity(layout.len() + page.main.len() + 256);
    for line in layout.split_inclusive('\n') {
        let indent = &line[..line.len() - line.trim_start().len()];
        match line.trim() {
            "{{stylesheets}}" => {
                for name in &settings.stylesheets {
                    out.push_str(&format!(
                        "{indent}<link rel=\"stylesheet\" href=\"/assets/{name}\">\n"
                    ));
                }
            }
            "{{main}}" => out.push_str(page.main),
            _ => out.push_str(
                &line
                    .replace("{{title}}", settings.title)
                    .replace("{{script}}", settings.script),
            ),
        }
    }
    if let Some(at) = out.find("{{") {
        let rest = &out[at..];
        let name = rest.find("}}").map_or(rest, |end| &rest[..end + 2]);
        return Err(format!("the layout has `{name}`, which no setting fills"));
    }
    if let Some(path) = settings.current {
        out = mark_current(out, path)?;
    }
    Ok(out)
}

/// Marks the nav's link to `path` as the current page.
fn mark_current(document: String, path: &str) -> Result<String, String> {
    let nav_start = document
        .find("<nav")
        .ok_or("`current` is set, but the layout has no <nav>")?;
    let nav_end = document[nav_start..]
        .find("</nav>")
        .map(|end| nav_start + end)
        .ok_or("the layout's <nav> is not closed")?;
    let link = format!("<a href=\"{path}\">");
    let nav = &document[nav_start..nav_end];
    let Some(at) = nav.find(&link) else {
        return Err(format!("`current: {path}`: the nav has no link `{link}`"));
    };
    if nav[at + link.len()..].contains(&link) {
        return Err(format!("`current: {path}`: the nav links there twice"));
    }
    let at = nav_start + at + link.len() - 1; // the link's `>`
    Ok(format!(
        "{} aria-current=\"page\"{}",
        &document[..at],
        &document[at..]
    ))
}

/// A title: plain text, so that nothing in it is markup.
fn text(value: &str) -> Result<&str, String> {
    if value.is_empty() || value.contains(['<', '>', '&', '"', '{', '}']) {
        Err(format!(
            "title `{value}`: plain text only (no < > & \" {{ }}), not empty"
        ))
    } else {
        Ok(value)
    }
}

/// An asset's file name: lower-case letters, digits and `-`, then `extension`.
fn asset_name<'a>(value: &'a str, extension: &str) -> Result<&'a str, String> {
    let stem = value.strip_suffix(extension).unwrap_or("");
    if !stem.is_empty()
        && stem
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Ok(value)
    } else {
        Err(format!(
            "`{value}`: an asset name is lower-case letters, digits and `-`, then `{extension}`"
        ))
    }
}

/// A nav path: `/` then lower-case letters and `-`.
fn nav_path(value: &str) -> Result<&str, String> {
    match value.strip_prefix('/') {
        Some(rest)
            if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') =>
        {
            Ok(value)
        }
        _ => Err(format!(
            "`current: {value}`: a path such as /account (lower-case letters and -)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYOUT: &str = "<head>\n<title>{{title}} · site</title>\n  <link rel=\"stylesheet\" \
        href=\"/assets/style.css\">\n  {{stylesheets}}\n<script type=\"module\" \
        src=\"/assets/{{script}}\"></script>\n</head>\n<a href=\"/a\">brand</a>\n<nav>\n\
        <a href=\"/a\">A</a>\n<a href=\"/b\">B</a>\n</nav>\n{{main}}\n</body>\n";

    fn build(source: &str) -> Result<String, String> {
        parse_source(source).and_then(|page| assemble(LAYOUT, &page))
    }

    #[test]
    fn a_page_fills_the_layout_and_keeps_its_main_byte_for_byte() {
        let source = "<!--\n  title: Keys\n  script: keys.js\n  stylesheet: keys.css\n  \
            stylesheet: more-2.css\n  current: /b\n-->\n  <main class=\"x\">\n  </main>\n";
        assert_eq!(
            build(source).unwrap(),
            "<head>\n<title>Keys · site</title>\n  <link rel=\"stylesheet\" \
             href=\"/assets/style.css\">\n  <link rel=\"stylesheet\" href=\"/assets/keys.css\">\n  \
             <link rel=\"stylesheet\" href=\"/assets/more-2.css\">\n<script type=\"module\" \
             src=\"/assets/keys.js\"></script>\n</head>\n<a href=\"/a\">brand</a>\n<nav>\n\
             <a href=\"/a\">A</a>\n<a href=\"/b\" aria-current=\"page\">B</a>\n</nav>\n  \
             <main class=\"x\">\n  </main>\n</body>\n"
        );
    }

    #[test]
    fn without_current_no_link_is_marked_and_no_stylesheet_line_is_left() {
        let page = build("<!--\ntitle: T\nscript: t.js\n-->\n<main></main>\n").unwrap();
        assert!(!page.contains("aria-current"), "{page}");
        assert!(!page.contains("{{"), "{page}");
        assert_eq!(page.matches("rel=\"stylesheet\"").count(), 1, "{page}");
    }

    #[test]
    fn only_the_nav_link_is_marked_never_the_same_link_outside_it() {
        let page =
            build("<!--\ntitle: T\nscript: t.js\ncurrent: /a\n-->\n<main></main>\n").unwrap();
        assert!(page.contains("<a href=\"/a\">brand</a>"), "{page}");
        assert!(
            page.contains("<a href=\"/a\" aria-current=\"page\">A</a>"),
            "{page}"
        );
        assert_eq!(page.matches("aria-current").count(), 1);
    }

    #[test]
    fn a_source_that_breaks_a_rule_is_refused_with_the_reason() {
        for (source, reason) in [
            ("<main></main>\n", "settings comment"),
            (
                "<!--\ntitle: T\nscript: t.js\n<main></main>\n",
                "closed by `-->`",
            ),
            ("<!--\nscript: t.js\n-->\n", "`title` is missing"),
            ("<!--\ntitle: T\n-->\n", "`script` is missing"),
            (
                "<!--\ntitle: T\ntitle: U\nscript: t.js\n-->\n",
                "given twice",
            ),
            (
                "<!--\ntitle: T\nscript: t.js\nlang: fr\n-->\n",
                "unknown setting `lang`",
            ),
            ("<!--\ntitle T\nscript: t.js\n-->\n", "`key: value`"),
            ("<!--\ntitle: <b>T</b>\nscript: t.js\n-->\n", "plain text"),
            ("<!--\ntitle: A & B\nscript: t.js\n-->\n", "plain text"),
            ("<!--\ntitle: {{main}}\nscript: t.js\n-->\n", "plain text"),
            ("<!--\ntitle: \nscript: t.js\n-->\n", "plain text"),
            ("<!--\ntitle: T\nscript: t.css\n-->\n", "asset name"),
            ("<!--\ntitle: T\nscript: ../t.js\n-->\n", "asset name"),
            ("<!--\ntitle: T\nscript: T.js\n-->\n", "asset name"),
            ("<!--\ntitle: T\nscript: .js\n-->\n", "asset name"),
            (
                "<!--\ntitle: T\nscript: t.js\" onload=\"x.js\n-->\n",
                "asset name",
            ),
            (
                "<!--\ntitle: T\nscript: t.js\nstylesheet: t.js\n-->\n",
                "asset name",
            ),
            ("<!--\ntitle: T\nscript: t.js\ncurrent: b\n-->\n", "a path"),
            (
                "<!--\ntitle: T\nscript: t.js\ncurrent: /b\"x\n-->\n",
                "a path",
            ),
            (
                "<!--\ntitle: T\nscript: t.js\ncurrent: /c\n-->\n",
                "no link",
            ),
        ] {
            let error = build(source).expect_err(source);
            assert!(error.contains(reason), "{source:?}: {error}");
        }
    }

    #[test]
    fn a_layout_slot_no_setting_fills_is_refused() {
        let page = parse_source("<!--\ntitle: T\nscript: t.js\n-->\n<main></main>\n").unwrap();
        let error = assemble("<title>{{title}}</title>{{lang}}\n{{main}}", &page).unwrap_err();
        assert!(error.contains("`{{lang}}`"), "{error}");
        let error = assemble(
            "<nav><a href=\"/a\">A</a><a href=\"/a\">A</a></nav>\n{{main}}\n",
            &{ parse_source("<!--\ntitle: T\nscript: t.js\ncurrent: /a\n-->\n").unwrap() },
        )
        .unwrap_err();
        assert!(error.contains("twice"), "{error}");
        let error = assemble(
            "{{main}}",
            &parse_source("<!--\ntitle: T\nscript: t.js\ncurrent: /a\n-->\n").unwrap(),
        )
        .unwrap_err();
        assert!(error.contains("no <nav>"), "{error}");
    }
}
