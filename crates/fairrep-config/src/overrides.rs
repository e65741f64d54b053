//! `--set KEY=VALUE` overrides of a parsed config document, and "did you mean" for unknown keys.

use crate::penalty::PenaltyKind;

/// One `--set key=value` override: a dotted key (array elements by index, `tasks.0.name`) and a
/// TOML value (`0.5`, `true`, `[32, 16]`, `"text"`; anything that is not TOML is a string).
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The dotted key.
    pub key: String,
    /// The value.
    pub value: toml::Value,
    /// As written, for messages.
    pub text: String,
}

impl std::str::FromStr for Override {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (key, raw) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}` is not key=value"))?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(format!("`{text}`: `{key}` is not a dotted key"));
        }
        let raw = raw.trim();
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.to_string()));
        Ok(Override {
            key: key.to_string(),
            value,
            text: text.to_string(),
        })
    }
}

impl Override {
    /// Writes the value into a parsed document (a TOML table), creating tables on the way.
    /// Setting `penalty.kind` also drops the other kinds' options from `[penalty]` (an MMD
    /// config's `bandwidth` means nothing to the Sinkhorn divergence), so one config can be run
    /// with any penalty.
    pub(crate) fn apply(&self, doc: &mut toml::Value) -> Result<(), String> {
        if self.key == "penalty.kind"
            && let (Some(kind), Some(toml::Value::Table(pen))) =
                (self.value.as_str(), doc.get_mut("penalty"))
        {
            // An unknown kind is left for the config's own check to name.
            if let Ok(kind) = toml::Value::String(kind.to_string()).try_into::<PenaltyKind>() {
                pen.retain(|k, _| !kind.foreign(k));
            }
        }
        let parts: Vec<&str> = self.key.split('.').collect();
        let mut node = doc;
        for (depth, part) in parts.iter().enumerate() {
            let last = depth + 1 == parts.len();
            let here = parts[..depth].join(".");
            node = match node {
                toml::Value::Table(t) => {
                    if last {
                        t.insert(part.to_string(), self.value.clone());
                        return Ok(());
                    }
                    t.entry(part.to_string())
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                }
                toml::Value::Array(items) => {
                    let len = items.len();
                    let i: usize = part.parse().map_err(|_| {
                        format!("`{here}` is a list: index it by number, e.g. `{here}.0`")
                    })?;
                    let item = items
                        .get_mut(i)
                        .ok_or_else(|| format!("`{here}` has {len} entries: no index {i}"))?;
                    if last {
                        *item = self.value.clone();
                        return Ok(());
                    }
                    item
                }
                _ => return Err(format!("`{here}` is a value, not a table")),
            };
        }
        Ok(())
    }
}

/// Adds "did you mean `…`?" to serde's "unknown field `x`, expected one of `a`, `b`, …" (or
/// "unknown variant") when one of the expected names is close to the unknown one.
pub fn with_suggestion(message: &str) -> String {
    let quoted = |text: &str| -> Vec<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let found = ["unknown field", "unknown variant"]
        .iter()
        .find_map(|marker| message.find(marker).map(|at| &message[at..]));
    let Some(tail) = found else {
        return message.to_string();
    };
    let line = tail.lines().next().unwrap_or(tail);
    let names = quoted(line);
    let Some((unknown, expected)) = names.split_first() else {
        return message.to_string();
    };
    let best = expected
        .iter()
        .map(|e| (strsim::damerau_levenshtein(unknown, e), e))
        .min();
    match best {
        Some((d, e)) if d <= 2.max(unknown.len() / 3) => {
            format!("{message}\n  did you mean `{e}`?")
        }
        _ => message.to_string(),
    }
}
