//! The selector grammar: a hand-written parser from text to requirements, with the 0-based
//! offset of the first thing it did not expect and what it found there.

use super::*;

fn is_op_char(c: char) -> bool {
    matches!(c, '=' | '!' | '<' | '>' | '~')
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, ',' | '(' | ')') && !is_op_char(c)
}

fn is_value_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, ',' | '(' | ')')
}

fn is_name_char(c: &char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn is_prefix_char(c: &char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.')
}

pub(super) struct Parser<'a> {
    pub(super) input: &'a str,
    pub(super) chars: Vec<char>,
    pub(super) pos: usize,
}

impl Parser<'_> {
    fn fail<T>(&self, position: usize, message: impl Into<String>) -> Result<T, SelectorError> {
        Err(SelectorError {
            position,
            message: message.into(),
            input: self.input.to_owned(),
        })
    }

    /// Fails at the cursor with "{expected}, found {the token at the cursor}".
    fn fail_found<T>(&self, expected: &str) -> Result<T, SelectorError> {
        self.fail(self.pos, format!("{expected}, found {}", self.found()))
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn peek_run(&self, keep: fn(char) -> bool) -> String {
        self.chars[self.pos..]
            .iter()
            .take_while(|c| keep(**c))
            .collect()
    }

    /// Consumes the run of `keep` chars at the cursor: (start, text).
    fn take_run(&mut self, keep: fn(char) -> bool) -> (usize, String) {
        let start = self.pos;
        let text = self.peek_run(keep);
        self.pos += text.chars().count();
        (start, text)
    }

    /// Describes the token at the cursor for error messages.
    fn found(&self) -> String {
        match self.peek() {
            None => "end of selector".to_owned(),
            Some(c) if is_word_char(c) => format!("'{}'", self.peek_run(is_word_char)),
            Some(c) if is_op_char(c) => format!("'{}'", self.peek_run(is_op_char)),
            Some(c) => format!("{c:?}"),
        }
    }

    pub(super) fn parse_selector(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        self.skip_ws();
        // After a ',' another requirement must follow, even at the end.
        while self.peek().is_some() || !requirements.is_empty() {
            requirements.push(self.parse_requirement(!requirements.is_empty())?);
            self.skip_ws();
            match self.peek() {
                None => break,
                Some(',') => self.pos += 1,
                Some(_) => {
                    let found = self.found();
                    let msg = format!("unexpected {found}, expected ',' or end of selector");
                    return self.fail(self.pos, msg);
                }
            }
            self.skip_ws();
        }
        Ok(requirements)
    }

    fn parse_requirement(&mut self, after_comma: bool) -> Result<Requirement, SelectorError> {
        match self.peek() {
            Some(c) if is_word_char(c) => {}
            Some('!') if self.peek_run(is_op_char) == "!" => {
                self.pos += 1;
                return self.parse_not_exists();
            }
            Some(c) if is_op_char(c) => {
                let op = self.peek_run(is_op_char);
                return self.fail(self.pos, format!("expected a key before '{op}'"));
            }
            _ if after_comma => return self.fail(self.pos, "expected a requirement after ','"),
            _ => return self.fail_found("expected a requirement"),
        }
        let key = self.parse_key()?;
        self.skip_ws();
        let op_pos = self.pos;
        let op = match self.peek() {
            None | Some(',') => Op::Exists,
            Some(c) if is_op_char(c) => match self.take_run(is_op_char).1.as_str() {
                op @ ("=" | "==") => Op::Equals(self.parse_value(op)?),
                "!=" => Op::NotEquals(self.parse_value("!=")?),
                op => return self.fail(op_pos, format!("unknown operator '{op}', {OPERATORS}")),
            },
            Some(c) if is_word_char(c) => match self.take_run(is_word_char).1.as_str() {
                "in" => Op::In(self.parse_list("in")?),
                "notin" => Op::NotIn(self.parse_list("notin")?),
                op => return self.fail(op_pos, format!("unknown operator '{op}', {OPERATORS}")),
            },
            Some(_) => return self.fail_found(&format!("expected an operator after key '{key}'")),
        };
        Ok(Requirement { key, op })
    }

    /// Parses the key of `!key`; the cursor is just past the `!`.
    fn parse_not_exists(&mut self) -> Result<Requirement, SelectorError> {
        self.skip_ws();
        if !self.peek().is_some_and(is_word_char) {
            return self.fail_found("expected a key after '!'");
        }
        let key = self.parse_key()?;
        self.skip_ws();
        let word = self.peek_run(is_word_char);
        if self.peek().is_some_and(is_op_char) || word == "in" || word == "notin" {
            let found = self.found();
            let msg = format!("'!' only takes a bare key, found {found} (use '!=' or 'notin')");
            return self.fail(self.pos, msg);
        }
        let op = Op::DoesNotExist;
        Ok(Requirement { key, op })
    }

    fn parse_key(&mut self) -> Result<String, SelectorError> {
        let (start, key) = self.take_run(is_word_char);
        let (name_start, name) = match key.split_once('/') {
            None => (start, key.as_str()),
            Some(("", _)) => return self.fail(start, "empty key prefix before '/'"),
            Some((prefix, name)) => {
                self.check_name(start, prefix, "key prefix")?;
                // Each '.'-part must start and end alphanumeric (ASCII: bytes = chars).
                let bad = [("..", 1), (".-", 1), ("-.", 0)].iter();
                if let Some(i) = bad.filter_map(|(p, d)| prefix.find(p).map(|i| i + d)).min() {
                    let msg = format!("invalid key prefix '{prefix}' ({DNS})");
                    return self.fail(start + i, msg);
                }
                let name_start = start + prefix.chars().count() + 1;
                if name.is_empty() {
                    return self.fail(name_start, format!("empty name after '/' in key '{key}'"));
                }
                if let Some(i) = name.chars().position(|c| c == '/') {
                    return self.fail(name_start + i, format!("key '{key}' has more than one '/'"));
                }
                (name_start, name)
            }
        };
        self.check_name(name_start, name, "key")?;
        Ok(key)
    }

    /// Checks a non-empty key name, value or (`what` = "key prefix") prefix.
    fn check_name(&self, start: usize, text: &str, what: &str) -> Result<(), SelectorError> {
        let (ok, max): (fn(&char) -> bool, usize) = match what {
            "key prefix" => (is_prefix_char, MAX_PREFIX_LEN),
            _ => (is_name_char, MAX_NAME_LEN),
        };
        let chars: Vec<char> = text.chars().collect();
        if let Some(i) = chars.iter().position(|c| !ok(c)) {
            let msg = format!("invalid character {:?} in {what} '{text}'", chars[i]);
            return self.fail(start + i, msg);
        }
        for i in [0, chars.len().saturating_sub(1)] {
            if !chars.get(i).is_some_and(char::is_ascii_alphanumeric) {
                let msg = format!("{what} '{text}' must start and end with a letter or digit");
                return self.fail(start + i, msg);
            }
        }
        let n = chars.len();
        if n > max {
            let msg = format!("{what} is too long ({n} characters, at most {max})");
            return self.fail(start + max, msg);
        }
        Ok(())
    }

    /// Parses the (possibly empty) value after `=`, `==` or `!=`.
    fn parse_value(&mut self, op: &str) -> Result<String, SelectorError> {
        self.skip_ws();
        if self.peek() == Some('(') {
            let msg =
                format!("unexpected '(' after '{op}' (use 'in (...)' to match a list of values)");
            return self.fail(self.pos, msg);
        }
        let (start, value) = self.take_run(is_value_char);
        if !value.is_empty() {
            self.check_name(start, &value, "value")?;
        } else if op == "==" {
            return self
                .fail_found("expected a value after '==' (use '=' to match an empty value)");
        }
        Ok(value)
    }

    /// Parses `(a,b,...)` after `in` or `notin`.
    fn parse_list(&mut self, keyword: &str) -> Result<BTreeSet<String>, SelectorError> {
        const UNCLOSED: &str = "expected ')' to close the value list";
        self.skip_ws();
        if self.peek() != Some('(') {
            return self.fail_found(&format!("expected '(' after '{keyword}'"));
        }
        self.pos += 1;
        let mut values = BTreeSet::new();
        loop {
            self.skip_ws();
            let (start, value) = self.take_run(is_value_char);
            match self.peek() {
                _ if !value.is_empty() => self.check_name(start, &value, "value")?,
                None => return self.fail(self.pos, UNCLOSED),
                Some(')') if values.is_empty() => {
                    let msg = format!("empty value list after '{keyword}', expected a value");
                    return self.fail(self.pos, msg);
                }
                Some(_) => return self.fail_found("expected a value"),
            }
            values.insert(value);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(')') => {
                    self.pos += 1;
                    return Ok(values);
                }
                None => return self.fail(self.pos, UNCLOSED),
                Some(_) => return self.fail_found("expected ',' or ')' in the value list"),
            }
        }
    }
}
