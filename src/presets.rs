//! `iam-sentinel rules presets [NAME]`: the named action sets a rule can use, with what each
//! holds and where it came from (`policy_engine::presets`), for people or as JSON.

use std::fmt::Write;

use policy_engine::presets::{self, Preset};
use serde_json::{Value, json};

/// Every preset (its actions counted), or the one named (its actions listed).
pub struct Listing {
    presets: Vec<&'static Preset>,
    one: bool,
}

impl Listing {
    /// Every preset, or the one named (in any case); an unknown name is refused, naming the
    /// known ones.
    pub fn of(name: Option<&str>) -> Result<Listing, String> {
        match name {
            None => Ok(Listing {
                presets: presets::all().iter().collect(),
                one: false,
            }),
            Some(name) => presets::get(name)
                .map(|preset| Listing {
                    presets: vec![preset],
                    one: true,
                })
                .ok_or_else(|| {
                    let known: Vec<&str> = presets::all().iter().map(|p| p.name).collect();
                    format!("no preset named {name:?} (presets: {})", known.join(", "))
                }),
        }
    }

    pub fn human(&self) -> String {
        let mut out = String::new();
        for preset in &self.presets {
            let _ = writeln!(
                out,
                "{}: {}, {}, version {}",
                preset.name,
                preset.title,
                count(preset),
                preset.version
            );
            wrap(&mut out, "  ", preset.description);
            for source in preset.sources {
                let _ = writeln!(
                    out,
                    "  source: {}, retrieved {}\n    {}",
                    source.name, source.retrieved, source.url
                );
                wrap(&mut out, "    ", &format!("licence: {}", source.licence));
                if self.one {
                    wrap(&mut out, "    ", source.note);
                }
            }
            if self.one {
                let _ = writeln!(out, "  actions:");
                for action in preset.actions {
                    let _ = writeln!(out, "    {action}");
                }
            }
            out.push('\n');
        }
        if !self.one {
            let _ = writeln!(
                out,
                "{} presets; `iam-sentinel rules presets NAME` lists one's actions.",
                self.presets.len()
            );
        }
        out
    }

    /// `{"presets": [...]}`, each with every field, its actions included.
    pub fn json(&self) -> String {
        let presets: Vec<Value> = self
            .presets
            .iter()
            .map(|preset| {
                let sources: Vec<Value> = preset
                    .sources
                    .iter()
                    .map(|s| {
                        json!({"name": s.name, "url": s.url, "licence": s.licence,
                               "retrieved": s.retrieved, "note": s.note})
                    })
                    .collect();
                json!({
                    "name": preset.name,
                    "title": preset.title,
                    "description": preset.description,
                    "version": preset.version,
                    "sources": sources,
                    "actions": preset.actions,
                })
            })
            .collect();
        serde_json::to_string_pretty(&json!({"presets": presets}))
            .expect("a listing always serialises")
    }
}

fn count(preset: &Preset) -> String {
    match preset.actions {
        ["*"] => "the pattern * (every action)".to_owned(),
        [_] => "1 action".to_owned(),
        actions => format!("{} actions", actions.len()),
    }
}

/// `text` in lines of at most 96 characters (a longer word stands alone), each after `indent`.
pub fn wrap(out: &mut String, indent: &str, text: &str) {
    const WIDTH: usize = 96;
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > WIDTH {
            let _ = writeln!(out, "{indent}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{indent}{line}");
    }
}
