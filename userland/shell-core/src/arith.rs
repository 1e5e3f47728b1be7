//! Arithmetic expansion `$((...))`: signed 64-bit integers (wrapping, as C's `long` on the
//! shells that use it), with the C operators POSIX lists, in C's precedence: `( )`, unary
//! `+ - ! ~`, `* / %`, `+ -`, `<< >>`, `< <= > >=`, `== !=`, `&`, `^`, `|`, `&&`, `||`,
//! `?:`, and the assignments `= *= /= %= += -= <<= >>= &= ^= |=`. Constants are decimal,
//! octal (`010`) or hexadecimal (`0x1f`); a variable's value (unset or empty: 0) is itself
//! such a constant. Operands skipped by `&&`, `||` and `?:` are parsed but not evaluated.

/// What evaluation reads and assigns variables through.
pub trait Vars {
    /// The value of variable `name`, if set.
    fn get(&self, name: &str) -> Option<String>;
    /// Sets variable `name`; the error is the message to report.
    fn set(&mut self, name: &str, value: String) -> Result<(), String>;
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Number(i64),
    Name(String),
    Op(&'static str),
}

/// Longest operators first, so that `<<=` is not read as `<` `<=`.
const OPERATORS: &[&str] = &[
    "<<=", ">>=", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "*=", "/=", "%=", "+=", "-=",
    "&=", "^=", "|=", "+", "-", "*", "/", "%", "<", ">", "&", "^", "|", "!", "~", "?", ":", "=",
    "(", ")",
];

/// Parses a constant as C does: `0x` hexadecimal, leading `0` octal, else decimal.
pub fn parse_number(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<u64>().ok()?
    } as i64;
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

fn tokenize(expr: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut rest = expr;
    loop {
        rest = rest.trim_start();
        let Some(c) = rest.chars().next() else {
            return Ok(tokens);
        };
        if c.is_ascii_digit() {
            let len = rest
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(rest.len());
            let number = parse_number(&rest[..len]).ok_or("syntax error")?;
            tokens.push(Token::Number(number));
            rest = &rest[len..];
        } else if c.is_ascii_alphabetic() || c == '_' {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            tokens.push(Token::Name(rest[..len].to_string()));
            rest = &rest[len..];
        } else {
            let op = OPERATORS
                .iter()
                .find(|op| rest.starts_with(**op))
                .ok_or("syntax error")?;
            tokens.push(Token::Op(op));
            rest = &rest[op.len()..];
        }
    }
}

struct Eval<'a> {
    tokens: Vec<Token>,
    at: usize,
    vars: &'a mut dyn Vars,
}

/// A parsed operand: its value, and the variable it names if it is one (for assignment).
type Operand = (i64, Option<String>);

/// Binary operators by precedence level, loosest first (after `||` and `&&`).
const LEVELS: &[&[&str]] = &[
    &["|"],
    &["^"],
    &["&"],
    &["==", "!="],
    &["<", "<=", ">", ">="],
    &["<<", ">>"],
    &["+", "-"],
    &["*", "/", "%"],
];

impl Eval<'_> {
    fn peek_op(&self) -> Option<&'static str> {
        match self.tokens.get(self.at) {
            Some(Token::Op(op)) => Some(op),
            _ => None,
        }
    }

    fn value(&self, name: &str, live: bool) -> Result<i64, String> {
        if !live {
            return Ok(0);
        }
        match self.vars.get(name) {
            None => Ok(0),
            Some(v) if v.trim().is_empty() => Ok(0),
            Some(v) => parse_number(&v).ok_or_else(|| format!("Illegal number: {v}")),
        }
    }

    /// An assignment expression (the whole grammar).
    fn assignment(&mut self, live: bool) -> Result<i64, String> {
        let start = self.at;
        if let Some(Token::Name(name)) = self.tokens.get(self.at).cloned()
            && let Some(Token::Op(op)) = self.tokens.get(self.at + 1).cloned()
            && op.ends_with('=')
            && !matches!(op, "==" | "!=" | "<=" | ">=")
        {
            self.at += 2;
            let right = self.assignment(live)?;
            if !live {
                return Ok(0);
            }
            let value = if op == "=" {
                right
            } else {
                let left = self.value(&name, live)?;
                binary(&op[..op.len() - 1], left, right)?
            };
            self.vars.set(&name, value.to_string())?;
            return Ok(value);
        }
        self.at = start;
        self.conditional(live)
    }

    fn conditional(&mut self, live: bool) -> Result<i64, String> {
        let condition = self.logical(live, 0)?;
        if self.peek_op() != Some("?") {
            return Ok(condition);
        }
        self.at += 1;
        let yes = self.assignment(live && condition != 0)?;
        if self.peek_op() != Some(":") {
            return Err("expecting ':'".into());
        }
        self.at += 1;
        let no = self.conditional(live && condition == 0)?;
        Ok(if condition != 0 { yes } else { no })
    }

    /// `||` (level 0) and `&&` (level 1), short-circuiting.
    fn logical(&mut self, live: bool, level: usize) -> Result<i64, String> {
        let op = ["||", "&&"][level];
        let next = |this: &mut Self, live| {
            if level == 0 {
                this.logical(live, 1)
            } else {
                this.binary(live, 0)
            }
        };
        let mut left = next(self, live)?;
        while self.peek_op() == Some(op) {
            self.at += 1;
            let decided = if level == 0 { left != 0 } else { left == 0 };
            let right = next(self, live && !decided)?;
            left = i64::from(if decided { level == 0 } else { right != 0 });
        }
        Ok(left)
    }

    fn binary(&mut self, live: bool, level: usize) -> Result<i64, String> {
        let Some(ops) = LEVELS.get(level) else {
            return Ok(self.unary(live)?.0);
        };
        let mut left = self.binary(live, level + 1)?;
        while let Some(op) = self.peek_op().filter(|op| ops.contains(op)) {
            self.at += 1;
            let right = self.binary(live, level + 1)?;
            if live {
                left = binary(op, left, right)?;
            }
        }
        Ok(left)
    }

    fn unary(&mut self, live: bool) -> Result<Operand, String> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        match token {
            Some(Token::Number(n)) => Ok((n, None)),
            Some(Token::Name(name)) => Ok((self.value(&name, live)?, Some(name))),
            Some(Token::Op("(")) => {
                let value = self.assignment(live)?;
                if self.peek_op() != Some(")") {
                    return Err("missing ')'".into());
                }
                self.at += 1;
                Ok((value, None))
            }
            Some(Token::Op(op @ ("+" | "-" | "!" | "~"))) => {
                let (value, _) = self.unary(live)?;
                Ok((
                    match op {
                        "+" => value,
                        "-" => value.wrapping_neg(),
                        "!" => i64::from(value == 0),
                        _ => !value,
                    },
                    None,
                ))
            }
            _ => Err("syntax error".into()),
        }
    }
}

fn binary(op: &str, left: i64, right: i64) -> Result<i64, String> {
    Ok(match op {
        "*" => left.wrapping_mul(right),
        "/" | "%" if right == 0 => return Err("division by zero".into()),
        "/" => left.wrapping_div(right),
        "%" => left.wrapping_rem(right),
        "+" => left.wrapping_add(right),
        "-" => left.wrapping_sub(right),
        "<<" => left.wrapping_shl(right as u32),
        ">>" => left.wrapping_shr(right as u32),
        "<" => i64::from(left < right),
        "<=" => i64::from(left <= right),
        ">" => i64::from(left > right),
        ">=" => i64::from(left >= right),
        "==" => i64::from(left == right),
        "!=" => i64::from(left != right),
        "&" => left & right,
        "^" => left ^ right,
        "|" => left | right,
        _ => return Err("syntax error".into()),
    })
}

/// Evaluates `expr` (already expanded); the error is the message dash gives, without its
/// `arithmetic expression: ` prefix.
pub fn eval(expr: &str, vars: &mut dyn Vars) -> Result<i64, String> {
    let tokens = tokenize(expr)?;
    if tokens.is_empty() {
        return Ok(0);
    }
    let mut eval = Eval {
        tokens,
        at: 0,
        vars,
    };
    let value = eval.assignment(true)?;
    if eval.at != eval.tokens.len() {
        return Err("syntax error".into());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    impl Vars for HashMap<String, String> {
        fn get(&self, name: &str) -> Option<String> {
            HashMap::get(self, name).cloned()
        }
        fn set(&mut self, name: &str, value: String) -> Result<(), String> {
            self.insert(name.into(), value);
            Ok(())
        }
    }

    fn calc(expr: &str) -> Result<i64, String> {
        let mut vars = HashMap::from([("x".to_string(), "5".to_string())]);
        eval(expr, &mut vars)
    }

    #[test]
    fn precedence_and_operators() {
        for (expr, value) in [
            ("1 + 2 * 3", 7),
            ("(1 + 2) * 3", 9),
            ("7 / 2", 3),
            ("-7 / 2", -3),
            ("7 % 3", 1),
            ("1 << 4 >> 2", 4),
            ("2 < 3 == 1", 1),
            ("5 & 3 | 8 ^ 1", 9),
            ("!0 + !5 + ~0", 0),
            ("- -3", 3),
            ("1 && 0 || 2", 1),
            ("0 ? 10 : 20", 20),
            ("1 ? 2 ? 3 : 4 : 5", 3),
            ("010 + 0x10 + 10", 34),
            ("x * 2", 10),
            ("nope + 1", 1),
            ("", 0),
            ("9223372036854775807 + 1", i64::MIN),
        ] {
            assert_eq!(calc(expr), Ok(value), "{expr}");
        }
    }

    #[test]
    fn assignments_and_short_circuits() {
        let mut vars = HashMap::new();
        assert_eq!(eval("a = 3", &mut vars), Ok(3));
        assert_eq!(eval("a += 4", &mut vars), Ok(7));
        assert_eq!(eval("a <<= 1", &mut vars), Ok(14));
        assert_eq!(eval("b = a = 2", &mut vars), Ok(2));
        assert_eq!(vars["a"], "2");
        assert_eq!(eval("0 && (c = 1)", &mut vars), Ok(0));
        assert_eq!(eval("1 || (c = 1)", &mut vars), Ok(1));
        assert_eq!(eval("1 ? 5 : (c = 1)", &mut vars), Ok(5));
        assert!(!vars.contains_key("c"));
        assert_eq!(eval("a == 2", &mut vars), Ok(1));
    }

    #[test]
    fn errors() {
        assert_eq!(calc("1 / 0"), Err("division by zero".into()));
        assert_eq!(calc("1 % 0"), Err("division by zero".into()));
        assert_eq!(calc("0 && 1 / 0"), Ok(0));
        assert_eq!(calc("1 +"), Err("syntax error".into()));
        assert_eq!(calc("(1"), Err("missing ')'".into()));
        assert_eq!(calc("1 2"), Err("syntax error".into()));
        assert_eq!(calc("09"), Err("syntax error".into()));
        let mut vars = HashMap::from([("s".to_string(), "abc".to_string())]);
        assert_eq!(eval("s + 1", &mut vars), Err("Illegal number: abc".into()));
    }
}
