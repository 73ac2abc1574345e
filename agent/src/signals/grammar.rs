//! The signal expression grammar: a hand-written recursive-descent parser from text to
//! [`Expr`], with the column of the first thing it did not expect.

use super::*;

/// Parses one signal expression.
pub(crate) fn parse(text: &str) -> Result<Expr, ExprError> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        at: 0,
    };
    let expr = parser.expr()?;
    parser.skip_space();
    if parser.at < parser.chars.len() {
        return Err(parser.error("unexpected text after the expression"));
    }
    Ok(expr)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn error(&self, message: impl Into<String>) -> ExprError {
        ExprError {
            column: self.at + 1,
            message: message.into(),
        }
    }

    fn skip_space(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), ExprError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(format!("expected {c:?}")))
        }
    }

    fn expr(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.term()?;
        loop {
            let op = match self.peek() {
                Some('+') => Op::Add,
                Some('-') => Op::Sub,
                _ => return Ok(left),
            };
            self.at += 1;
            let right = self.term()?;
            left = Expr::Binary(Box::new(left), op, Box::new(right));
        }
    }

    fn term(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.factor()?;
        loop {
            let op = match self.peek() {
                Some('*') => Op::Mul,
                Some('/') => Op::Div,
                _ => return Ok(left),
            };
            self.at += 1;
            let right = self.factor()?;
            left = Expr::Binary(Box::new(left), op, Box::new(right));
        }
    }

    fn factor(&mut self) -> Result<Expr, ExprError> {
        match self.peek() {
            None => Err(self.error("expected a number, a series or a function")),
            Some('(') => {
                self.at += 1;
                let inner = self.expr()?;
                self.expect(')')?;
                Ok(inner)
            }
            Some('-') => {
                self.at += 1;
                Ok(Expr::Neg(Box::new(self.factor()?)))
            }
            Some(c) if c.is_ascii_digit() || c == '.' => Ok(Expr::Number(self.number()?)),
            Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = self.at;
                let name = self.name();
                if !self.eat('(') {
                    return Ok(Expr::Series(self.series_after(name)?));
                }
                let call = match name.as_str() {
                    "rate" => Expr::Rate(self.series()?),
                    "increase" => Expr::Increase(self.series()?),
                    "histogram_quantile" => {
                        let q = self.number()?;
                        if !(0.0..=1.0).contains(&q) {
                            return Err(self.error("a quantile is between 0 and 1"));
                        }
                        self.expect(',')?;
                        Expr::Quantile(q, self.series()?)
                    }
                    _ => {
                        self.at = start;
                        return Err(self.error(format!(
                            "unknown function {name:?} (rate, increase, histogram_quantile)"
                        )));
                    }
                };
                self.expect(')')?;
                Ok(call)
            }
            Some(c) => Err(self.error(format!("unexpected {c:?}"))),
        }
    }

    fn number(&mut self) -> Result<f64, ExprError> {
        self.skip_space();
        let start = self.at;
        while self
            .chars
            .get(self.at)
            .is_some_and(|c| c.is_ascii_digit() || *c == '.' || *c == 'e' || *c == 'E')
        {
            // An exponent may carry a sign.
            if matches!(self.chars[self.at], 'e' | 'E')
                && matches!(self.chars.get(self.at + 1), Some('+' | '-'))
            {
                self.at += 1;
            }
            self.at += 1;
        }
        let text: String = self.chars[start..self.at].iter().collect();
        text.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| ExprError {
                column: start + 1,
                message: format!("{text:?} is not a number"),
            })
    }

    fn name(&mut self) -> String {
        self.skip_space();
        let start = self.at;
        while self
            .chars
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
        {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    fn series(&mut self) -> Result<Series, ExprError> {
        let name = self.name();
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(self.error("expected a metric name"));
        }
        self.series_after(name)
    }

    fn series_after(&mut self, name: String) -> Result<Series, ExprError> {
        let mut matchers = Vec::new();
        if self.eat('{') {
            loop {
                let label = self.name();
                if label.is_empty() {
                    return Err(self.error("expected a label name"));
                }
                self.expect('=')?;
                self.expect('"')?;
                let start = self.at;
                while self.chars.get(self.at).is_some_and(|c| *c != '"') {
                    self.at += 1;
                }
                if self.at >= self.chars.len() {
                    return Err(self.error("unterminated label value"));
                }
                let value: String = self.chars[start..self.at].iter().collect();
                self.at += 1;
                matchers.push((label, value));
                if self.eat('}') {
                    break;
                }
                self.expect(',')?;
            }
        }
        Ok(Series { name, matchers })
    }
}
