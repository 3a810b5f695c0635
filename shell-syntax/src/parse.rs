//! Parsing shell command lines.
//!
//! The grammar is a small subset of the POSIX shell's:
//!
//! ```text
//! list     := and_or ((';' | newline) and_or)* [';' | newline]
//! and_or   := pipeline (('&&' | '||') linebreak pipeline)*
//! pipeline := command ('|' linebreak command)*
//! command  := (word | redirect)+
//! redirect := ('<' | '>' | '>>') word
//! ```
//!
//! `&&` and `||` bind equally tightly and associate to the left, `;` binds
//! loosest (so `a || b && c; d` is `((a || b) && c); d`). Words are made
//! of unquoted text, `'single quoted'` text (literal), `"double quoted"`
//! text (where `\` escapes `$`, `` ` ``, `"`, `\` and newline) and
//! backslash escapes; `$?` (the last status) is kept as a part of its own
//! and expanded when the command runs, also inside double quotes. A `#`
//! at the start of a word begins a comment.
//!
//! Parsing happens before anything runs: a syntax error anywhere in the
//! input runs nothing.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// A piece of a word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Text(String),
    /// `$?`: the exit status of the last pipeline.
    Status,
}

/// A word: its parts, concatenated when expanded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Word(pub Vec<Part>);

impl Word {
    /// The word's text, with `$?` replaced by `status`.
    pub fn expand(&self, status: i32) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Status => {
                    use core::fmt::Write;
                    let _ = write!(out, "{status}");
                }
            }
        }
        out
    }

    fn push_char(&mut self, c: char) {
        match self.0.last_mut() {
            Some(Part::Text(text)) => text.push(c),
            _ => self.0.push(Part::Text(String::from(c))),
        }
    }
}

/// What a redirection does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectKind {
    /// `< file`: standard input from the file.
    Input,
    /// `> file`: standard output to the file, created or truncated.
    Output,
    /// `>> file`: standard output appended to the file, created if needed.
    Append,
}

/// One redirection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub kind: RedirectKind,
    pub target: Word,
}

/// A simple command: its words (the program and its arguments) and its
/// redirections, applied left to right.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command {
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
}

/// Commands connected by pipes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pipeline {
    pub commands: Vec<Command>,
}

/// How a pipeline is connected to the one before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connector {
    /// `&&`: run when the previous status is 0.
    And,
    /// `||`: run when the previous status is not 0.
    Or,
}

/// Pipelines connected by `&&` and `||`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(Connector, Pipeline)>,
}

/// A whole input: and-or lists run one after the other.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct List {
    pub items: Vec<AndOr>,
}

/// A syntax error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "syntax error: {}", self.0)
    }
}

fn error<T>(message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(message.into()))
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(Word),
    Pipe,
    AndIf,
    OrIf,
    Semi,
    Newline,
    Less,
    Great,
    DGreat,
}

impl Token {
    fn text(&self) -> &'static str {
        match self {
            Token::Word(_) => "word",
            Token::Pipe => "|",
            Token::AndIf => "&&",
            Token::OrIf => "||",
            Token::Semi => ";",
            Token::Newline => "newline",
            Token::Less => "<",
            Token::Great => ">",
            Token::DGreat => ">>",
        }
    }
}

fn is_operator_start(c: char) -> bool {
    matches!(c, '|' | '&' | ';' | '<' | '>' | '\n')
}

/// Splits `input` into tokens.
fn tokenize(input: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' | '\r' => {
                chars.next();
            }
            '#' => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '\n' => {
                chars.next();
                tokens.push(Token::Newline);
            }
            ';' => {
                chars.next();
                tokens.push(Token::Semi);
            }
            '<' => {
                chars.next();
                tokens.push(Token::Less);
            }
            '>' => {
                chars.next();
                if chars.next_if_eq(&'>').is_some() {
                    tokens.push(Token::DGreat);
                } else {
                    tokens.push(Token::Great);
                }
            }
            '|' => {
                chars.next();
                if chars.next_if_eq(&'|').is_some() {
                    tokens.push(Token::OrIf);
                } else {
                    tokens.push(Token::Pipe);
                }
            }
            '&' => {
                chars.next();
                if chars.next_if_eq(&'&').is_some() {
                    tokens.push(Token::AndIf);
                } else {
                    return error("background jobs (&) are not supported");
                }
            }
            _ => tokens.push(Token::Word(word(&mut chars)?)),
        }
    }
    Ok(tokens)
}

/// Reads one word (the next character starts it and is not an operator or
/// blank).
fn word(chars: &mut core::iter::Peekable<core::str::Chars>) -> Result<Word, ParseError> {
    let mut word = Word::default();
    let mut quoted = false;
    while let Some(&c) = chars.peek() {
        if c == ' ' || c == '\t' || c == '\r' || is_operator_start(c) {
            break;
        }
        chars.next();
        match c {
            '\'' => {
                quoted = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push_char(c),
                        None => return error("unterminated '"),
                    }
                }
            }
            '"' => {
                quoted = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('\n') => {}
                            Some(c @ ('$' | '`' | '"' | '\\')) => word.push_char(c),
                            Some(c) => {
                                word.push_char('\\');
                                word.push_char(c);
                            }
                            None => return error("unterminated \""),
                        },
                        Some('$') if chars.next_if_eq(&'?').is_some() => word.0.push(Part::Status),
                        Some(c) => word.push_char(c),
                        None => return error("unterminated \""),
                    }
                }
            }
            '\\' => match chars.next() {
                // Line continuation.
                Some('\n') => {}
                Some(c) => {
                    quoted = true;
                    word.push_char(c);
                }
                None => return error("\\ at the end of the input"),
            },
            '$' if chars.next_if_eq(&'?').is_some() => word.0.push(Part::Status),
            c => word.push_char(c),
        }
    }
    if word.0.is_empty() && quoted {
        // `''` and `""` are an empty argument, not no argument.
        word.0.push(Part::Text(String::new()));
    }
    Ok(word)
}

/// Parses a whole input (one line, or several separated by newlines).
pub fn parse(input: &str) -> Result<List, ParseError> {
    let tokens = tokenize(input)?;
    let mut parser = Parser { tokens, at: 0 };
    let mut list = List::default();
    loop {
        parser.skip_newlines();
        if parser.peek().is_none() {
            break;
        }
        list.items.push(parser.and_or()?);
        match parser.next() {
            None => break,
            Some(Token::Semi | Token::Newline) => {}
            Some(t) => return error(alloc::format!("unexpected {}", t.text())),
        }
    }
    Ok(list)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn skip_newlines(&mut self) {
        while self.peek() == Some(&Token::Newline) {
            self.at += 1;
        }
    }

    fn and_or(&mut self) -> Result<AndOr, ParseError> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let connector = match self.peek() {
                Some(Token::AndIf) => Connector::And,
                Some(Token::OrIf) => Connector::Or,
                _ => break,
            };
            self.at += 1;
            self.skip_newlines();
            rest.push((connector, self.pipeline()?));
        }
        Ok(AndOr { first, rest })
    }

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let mut commands = alloc::vec![self.command()?];
        while self.peek() == Some(&Token::Pipe) {
            self.at += 1;
            self.skip_newlines();
            commands.push(self.command()?);
        }
        Ok(Pipeline { commands })
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        let mut command = Command::default();
        loop {
            let kind = match self.peek() {
                Some(Token::Word(_)) => {
                    if let Some(Token::Word(w)) = self.next() {
                        command.words.push(w);
                    }
                    continue;
                }
                Some(Token::Less) => RedirectKind::Input,
                Some(Token::Great) => RedirectKind::Output,
                Some(Token::DGreat) => RedirectKind::Append,
                _ => break,
            };
            let operator = self.next().map_or("", |t| t.text());
            match self.next() {
                Some(Token::Word(target)) => command.redirects.push(Redirect { kind, target }),
                Some(t) => return error(alloc::format!("unexpected {} after {operator}", t.text())),
                None => return error(alloc::format!("missing file name after {operator}")),
            }
        }
        if command.words.is_empty() && command.redirects.is_empty() {
            return match self.peek() {
                Some(t) => error(alloc::format!("unexpected {}", t.text())),
                None => error("unexpected end of input"),
            };
        }
        Ok(command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn text(s: &str) -> Word {
        Word(vec![Part::Text(s.to_string())])
    }

    /// The words of a command, expanded with status 0.
    fn words(c: &Command) -> Vec<String> {
        c.words.iter().map(|w| w.expand(0)).collect()
    }

    fn single(input: &str) -> Command {
        let list = parse(input).unwrap();
        assert_eq!(list.items.len(), 1);
        assert!(list.items[0].rest.is_empty());
        assert_eq!(list.items[0].first.commands.len(), 1);
        list.items[0].first.commands[0].clone()
    }

    fn err(input: &str) -> String {
        parse(input).expect_err(input).0
    }

    #[test]
    fn simple_commands_and_blanks() {
        assert_eq!(words(&single("echo hello  world")), ["echo", "hello", "world"]);
        assert_eq!(words(&single("  \tls\t-l  ")), ["ls", "-l"]);
        assert_eq!(parse("").unwrap(), List::default());
        assert_eq!(parse("   \n\n ").unwrap(), List::default());
        assert_eq!(parse("# just a comment").unwrap(), List::default());
        assert_eq!(words(&single("echo a#b # comment")), ["echo", "a#b"]);
    }

    #[test]
    fn pipelines() {
        let list = parse("cat f | grep x|wc").unwrap();
        let p = &list.items[0].first;
        assert_eq!(p.commands.len(), 3);
        assert_eq!(words(&p.commands[0]), ["cat", "f"]);
        assert_eq!(words(&p.commands[1]), ["grep", "x"]);
        assert_eq!(words(&p.commands[2]), ["wc"]);
        // A pipe may be followed by a newline.
        assert_eq!(parse("a |\n b").unwrap().items[0].first.commands.len(), 2);
    }

    #[test]
    fn redirections() {
        let c = single("sort < in > out");
        assert_eq!(words(&c), ["sort"]);
        assert_eq!(
            c.redirects,
            [
                Redirect { kind: RedirectKind::Input, target: text("in") },
                Redirect { kind: RedirectKind::Output, target: text("out") },
            ]
        );
        let c = single("echo x >>log");
        assert_eq!(c.redirects, [Redirect { kind: RedirectKind::Append, target: text("log") }]);
        // Redirections may come anywhere, also alone.
        let c = single(">out echo 'a b'");
        assert_eq!(words(&c), ["echo", "a b"]);
        assert_eq!(c.redirects[0].target, text("out"));
        assert!(single("> empty").words.is_empty());
        // In a pipeline, each command has its own.
        let list = parse("cat < a | sort > b").unwrap();
        let p = &list.items[0].first;
        assert_eq!(p.commands[0].redirects[0].kind, RedirectKind::Input);
        assert_eq!(p.commands[1].redirects[0].kind, RedirectKind::Output);
        // `>>` is one operator, `> >` two.
        assert_eq!(err("echo > > f"), "unexpected > after >");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(words(&single(r#"echo 'a  b' "c  d" e\ f"#)), ["echo", "a  b", "c  d", "e f"]);
        assert_eq!(words(&single(r#"echo 'it''s' "say \"hi\"" \'"#)), ["echo", "its", "say \"hi\"", "'"]);
        // Operators inside quotes are text.
        assert_eq!(words(&single("echo 'a|b;c&&d' \"<>\" x\\;y")), ["echo", "a|b;c&&d", "<>", "x;y"]);
        // Quoted parts join with unquoted ones into one word.
        assert_eq!(words(&single("echo ab'cd'\"ef\"gh")), ["echo", "abcdefgh"]);
        // Empty quotes are an empty argument.
        assert_eq!(words(&single("echo '' \"\"")), ["echo", "", ""]);
        // In double quotes a backslash escapes only $ ` " \ and newline.
        assert_eq!(words(&single(r#"echo "a\b\\c\$d""#)), ["echo", r"a\b\c$d"]);
        // Single quotes keep backslashes.
        assert_eq!(words(&single(r"echo 'a\b'")), ["echo", r"a\b"]);
        // Backslash-newline continues the line.
        assert_eq!(words(&single("echo a\\\nb")), ["echo", "ab"]);
    }

    #[test]
    fn status_expansion() {
        let c = single(r#"echo $? "[$?]" '$?' \$? $x a$?b"#);
        let expanded: Vec<String> = c.words.iter().map(|w| w.expand(42)).collect();
        assert_eq!(expanded, ["echo", "42", "[42]", "$?", "$?", "$x", "a42b"]);
        assert_eq!(c.words[1], Word(vec![Part::Status]));
        // Expansion happens at run time: the same word gives each status.
        assert_eq!(c.words[1].expand(0), "0");
        assert_eq!(c.words[1].expand(127), "127");
        // Also in a redirection target.
        assert_eq!(single("echo x > f$?").redirects[0].target.expand(3), "f3");
    }

    #[test]
    fn lists_and_precedence() {
        let list = parse("a; b && c || d; e").unwrap();
        assert_eq!(list.items.len(), 3);
        assert_eq!(words(&list.items[0].first.commands[0]), ["a"]);
        let middle = &list.items[1];
        assert_eq!(words(&middle.first.commands[0]), ["b"]);
        assert_eq!(middle.rest.len(), 2);
        assert_eq!(middle.rest[0].0, Connector::And);
        assert_eq!(words(&middle.rest[0].1.commands[0]), ["c"]);
        assert_eq!(middle.rest[1].0, Connector::Or);
        assert_eq!(words(&middle.rest[1].1.commands[0]), ["d"]);
        assert_eq!(words(&list.items[2].first.commands[0]), ["e"]);
        // A pipe binds tighter than && and ||.
        let list = parse("a | b && c | d || e").unwrap();
        let item = &list.items[0];
        assert_eq!(item.first.commands.len(), 2);
        assert_eq!(item.rest[0].1.commands.len(), 2);
        assert_eq!(item.rest[1].1.commands.len(), 1);
        // Newlines separate like `;`, trailing separators are fine.
        assert_eq!(parse("a\nb;\n\nc;").unwrap().items.len(), 3);
        assert_eq!(parse("a &&\n b").unwrap().items[0].rest.len(), 1);
        // No blanks needed around operators.
        let list = parse("a&&b||c;d|e").unwrap();
        assert_eq!(list.items.len(), 2);
        assert_eq!(list.items[0].rest.len(), 2);
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(err("| a"), "unexpected |");
        assert_eq!(err("a |"), "unexpected end of input");
        assert_eq!(err("a | | b"), "unexpected |");
        assert_eq!(err("a &&"), "unexpected end of input");
        assert_eq!(err("|| a"), "unexpected ||");
        assert_eq!(err("a && || b"), "unexpected ||");
        assert_eq!(err("; a"), "unexpected ;");
        assert_eq!(err("a ;; b"), "unexpected ;");
        assert_eq!(err("a >"), "missing file name after >");
        assert_eq!(err("a < | b"), "unexpected | after <");
        assert_eq!(err("a >> ;"), "unexpected ; after >>");
        assert_eq!(err("echo 'abc"), "unterminated '");
        assert_eq!(err("echo \"abc"), "unterminated \"");
        assert_eq!(err("echo abc\\"), "\\ at the end of the input");
        assert_eq!(err("sleep 1 &"), "background jobs (&) are not supported");
        assert_eq!(ParseError("x".into()).to_string(), "syntax error: x");
    }
}
