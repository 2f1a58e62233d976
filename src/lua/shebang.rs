//! The first line of a script or a library (`#!lua flags=no-writes`,
//! `#!lua name=mylib`), read as Redis 7.0 reads it.

/// An EVAL script's shebang: its flags, and where its code starts (the
/// newline that ended the shebang stays, so line numbers hold).
pub struct ScriptShebang {
    /// None: no shebang (Redis's compatibility mode: the script may write
    /// whatever the command allows).
    pub flags: Option<Vec<String>>,
    pub code_start: usize,
}

impl ScriptShebang {
    /// Whether the script declared `no-writes`.
    pub fn no_writes(&self) -> bool {
        self.flags
            .as_ref()
            .is_some_and(|f| f.iter().any(|f| f == "no-writes"))
    }
}

/// Reads an EVAL script's shebang, if it has one; the error is Redis's
/// text.
pub fn script(body: &[u8]) -> Result<ScriptShebang, String> {
    if !body.starts_with(b"#!") {
        return Ok(ScriptShebang {
            flags: None,
            code_start: 0,
        });
    }
    let Some(end) = body.iter().position(|b| *b == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let parts: Vec<&str> = line.split_ascii_whitespace().collect();
    let Some(engine) = parts.first() else {
        return Err("ERR Invalid engine in script shebang".into());
    };
    if *engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = Vec::new();
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for flag in list.split(',').filter(|f| !f.is_empty()) {
            if !FUNCTION_FLAGS.contains(&flag) {
                return Err(format!("ERR Unexpected flag in script shebang: {flag}"));
            }
            flags.push(flag.to_string());
        }
    }
    Ok(ScriptShebang {
        flags: Some(flags),
        code_start: end,
    })
}

/// A library's metadata line: its name (FUNCTION LOAD); the error is
/// Redis's text.
pub fn library(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    // Redis's functionExtractLibMetaData: the first line split as
    // sdssplitargs splits (quotes work), the engine after `#!`.
    let Some(end) = code.iter().position(|b| *b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let parts = match crate::protocol::split_args(&code[..end]) {
        Some(parts) if !parts.is_empty() => parts,
        _ => return Err("ERR Invalid library metadata".into()),
    };
    let engine = String::from_utf8_lossy(&parts[0][2.min(parts[0].len())..]).into_owned();
    let mut name = None;
    for part in &parts[1..] {
        let text = String::from_utf8_lossy(part);
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(text[5..].to_string());
            continue;
        }
        return Err(format!("ERR Invalid metadata value given: {text}"));
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    if !valid_function_name(&name) {
        return Err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    Ok(name)
}

/// A library's code without its metadata line (the newline stays).
pub fn library_code(code: &[u8]) -> &[u8] {
    let end = code.iter().position(|b| *b == b'\n').unwrap_or(code.len());
    &code[end..]
}

/// The flags a function may carry (Redis 7.0's).
pub const FUNCTION_FLAGS: &[&str] = &[
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// A library or function name: letters, digits and underscores.
pub fn valid_function_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
