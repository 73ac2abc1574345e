use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn parse(input: &str) -> Selector {
    match Selector::parse(input) {
        Ok(selector) => selector,
        Err(err) => panic!("{input:?} should parse:\n{}", err.render()),
    }
}

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn req(key: &str, op: Op) -> Requirement {
    Requirement {
        key: key.to_owned(),
        op,
    }
}

const WEB_A: &[(&str, &str)] = &[("role", "web"), ("zone", "a")];
const DB_B: &[(&str, &str)] = &[("role", "db"), ("zone", "b")];
const NONE: &[(&str, &str)] = &[];
const EMPTY_ROLE: &[(&str, &str)] = &[("role", "")];

/// (selector, labels, expected match)
type Labels = &'static [(&'static str, &'static str)];

const MATCH_CASES: &[(&str, Labels, bool)] = &[
    ("role=web", WEB_A, true),
    ("role=web", DB_B, false),
    ("role=web", NONE, false),
    ("role==web", WEB_A, true),
    ("role == web", DB_B, false),
    ("role!=web", WEB_A, false),
    ("role!=web", DB_B, true),
    ("role!=web", NONE, true),
    ("role=", EMPTY_ROLE, true),
    ("role=", NONE, false),
    ("role=", WEB_A, false),
    ("role!=", EMPTY_ROLE, false),
    ("role!=", WEB_A, true),
    ("zone in (a,b)", WEB_A, true),
    ("zone in (a,b)", DB_B, true),
    ("zone in (c)", WEB_A, false),
    ("zone in (a)", NONE, false),
    ("zone notin (a)", WEB_A, false),
    ("zone notin (a)", DB_B, true),
    ("zone notin (a)", NONE, true),
    ("role", WEB_A, true),
    ("role", EMPTY_ROLE, true),
    ("role", NONE, false),
    ("!role", WEB_A, false),
    ("!role", NONE, true),
    ("! role", NONE, true),
    ("role=web,zone=a", WEB_A, true),
    ("role=web,zone=b", WEB_A, false),
    ("role=web,zone in (b,c)", WEB_A, false),
    ("role in (web,db), zone notin (c), !gpu", DB_B, true),
    ("role in (web,db), zone notin (c), gpu", DB_B, false),
    ("  role = web ,  zone  in  ( a , b )  ", WEB_A, true),
    ("\trole=web\n", WEB_A, true),
    ("zone in(a)", WEB_A, true),
    ("role=web,role!=db", WEB_A, true),
    ("role=web,role=db", WEB_A, false),
    ("e.io/tier=gold", &[("e.io/tier", "gold")], true),
    ("e.io/tier=gold", &[("tier", "gold")], false),
    ("A.b_c-9=X.y_z-1", &[("A.b_c-9", "X.y_z-1")], true),
    ("in=notin", &[("in", "notin")], true),
    ("", WEB_A, true),
    ("", NONE, true),
    ("   ", NONE, true),
];

#[test]
fn parse_and_match_table() {
    for (input, pairs, expected) in MATCH_CASES {
        let selector = parse(input);
        let got = selector.matches(&labels(pairs));
        assert_eq!(got, *expected, "{input:?} against {pairs:?}");
    }
}

#[test]
fn matches_with_agrees_with_matches() {
    for (input, pairs, expected) in MATCH_CASES {
        let selector = parse(input);
        let lookup = |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        assert_eq!(selector.matches_with(lookup), *expected, "{input:?}");
    }
}

#[test]
fn matches_with_accepts_a_borrowing_closure() {
    let map = labels(WEB_A);
    let selector = parse("role=web,zone");
    assert!(selector.matches_with(|k| map.get(k).map(String::as_str)));
    assert!(!selector.matches_with(|_| None));
}

#[test]
fn parses_into_expected_requirements() {
    let selector = parse("role=web, tier==gold, zone!=c, a in (y,x,y), b notin (z), c, !d, e=");
    let expected = vec![
        req("role", Op::Equals("web".into())),
        req("tier", Op::Equals("gold".into())),
        req("zone", Op::NotEquals("c".into())),
        req("a", Op::In(set(&["x", "y"]))),
        req("b", Op::NotIn(set(&["z"]))),
        req("c", Op::Exists),
        req("d", Op::DoesNotExist),
        req("e", Op::Equals(String::new())),
    ];
    assert_eq!(selector.requirements, expected);
}

#[test]
fn empty_selector_matches_everything() {
    for input in ["", " ", "\t \n"] {
        let selector = parse(input);
        assert!(selector.is_empty());
        assert_eq!(selector, Selector::default());
        assert!(selector.matches(&labels(WEB_A)));
        assert!(selector.matches(&BTreeMap::new()));
        assert_eq!(selector.to_string(), "");
    }
    assert!(Selector::default().matches(&labels(DB_B)));
    assert!(!parse("role").is_empty());
}

#[test]
fn display_is_canonical() {
    let cases = [
        ("role=web", "role=web"),
        ("role == web", "role=web"),
        ("  role != web ", "role!=web"),
        ("role=", "role="),
        ("zone in ( b , a , b )", "zone in (a,b)"),
        ("zone notin(c)", "zone notin (c)"),
        ("role, ! gpu", "role,!gpu"),
        ("x/y=z,role=web", "x/y=z,role=web"),
        ("role=web,zone in (a,b)", "role=web,zone in (a,b)"),
    ];
    for (input, canonical) in cases {
        assert_eq!(parse(input).to_string(), canonical, "{input:?}");
    }
}

#[test]
fn display_round_trips() {
    let extra = ["role=,zone in (a,b,c),!x,y notin (1,2)", "e.io/k-1=V_2.3"];
    let inputs = MATCH_CASES.iter().map(|(input, _, _)| *input).chain(extra);
    for input in inputs {
        let selector = parse(input);
        let text = selector.to_string();
        assert_eq!(parse(&text), selector, "{input:?} -> {text:?}");
        assert_eq!(parse(&text).to_string(), text);
    }
}

#[test]
fn from_str_parses() {
    let selector: Selector = "role=web".parse().expect("valid");
    assert_eq!(selector, parse("role=web"));
    let err = "=web".parse::<Selector>().expect_err("invalid");
    assert_eq!(err.position, 0);
}

/// (input, expected position, expected message fragment)
const ERROR_CASES: &[(&str, usize, &str)] = &[
    ("=web", 0, "expected a key before '='"),
    ("  == web", 2, "expected a key before '=='"),
    ("!=web", 0, "expected a key before '!='"),
    ("zone in a,b", 8, "expected '(' after 'in', found 'a'"),
    ("zone notin", 10, "expected '(' after 'notin'"),
    ("zone in ()", 9, "empty value list after 'in'"),
    ("zone notin ( )", 13, "empty value list after 'notin'"),
    ("zone in (a,b", 12, "expected ')' to close the value list"),
    ("zone in (a, ", 12, "expected ')' to close the value list"),
    ("zone in (", 9, "expected ')' to close the value list"),
    ("zone in (a,)", 11, "expected a value, found ')'"),
    ("zone in (,a)", 9, "expected a value, found ','"),
    ("zone in (a b)", 11, "expected ',' or ')' in the value list"),
    ("zone in (a$)", 10, "invalid character '$' in value 'a$'"),
    ("role==", 6, "expected a value after '=='"),
    ("role== ,x", 7, "expected a value after '=='"),
    ("role=web,", 9, "expected a requirement after ','"),
    ("role=web, ", 10, "expected a requirement after ','"),
    ("role=web,,zone=a", 9, "expected a requirement after ','"),
    (",role=web", 0, "expected a requirement, found ','"),
    ("(role)", 0, "expected a requirement, found '('"),
    ("role=we b", 8, "unexpected 'b', expected ','"),
    ("role=web zone=a", 9, "unexpected 'zone', expected ','"),
    ("zone in (a) b", 12, "unexpected 'b', expected ','"),
    ("role=web)", 8, "unexpected ')', expected ','"),
    ("role=(a)", 5, "unexpected '(' after '='"),
    ("ro$le=web", 2, "invalid character '$' in key 'ro$le'"),
    ("rôle=web", 1, "invalid character 'ô' in key"),
    ("role=w@b", 6, "invalid character '@' in value 'w@b'"),
    ("role=a=b", 6, "invalid character '=' in value 'a=b'"),
    ("role=web/x", 8, "invalid character '/' in value"),
    ("-role=web", 0, "key '-role' must start and end"),
    ("role_=web", 4, "key 'role_' must start and end"),
    ("role=.web", 5, "value '.web' must start and end"),
    ("role=web-", 8, "value 'web-' must start and end"),
    ("/role=web", 0, "empty key prefix before '/'"),
    ("e.io/=web", 5, "empty name after '/' in key 'e.io/'"),
    ("a/b/c=web", 3, "key 'a/b/c' has more than one '/'"),
    ("E.io/role", 0, "invalid character 'E' in key prefix"),
    ("e..io/role", 2, "invalid key prefix 'e..io'"),
    ("e.-io/role", 2, "invalid key prefix 'e.-io'"),
    ("e-.io/role", 1, "invalid key prefix 'e-.io'"),
    ("-e.io/role", 0, "key prefix '-e.io' must start and end"),
    ("e.io-/role", 4, "key prefix 'e.io-' must start and end"),
    ("e_x.io/role", 1, "invalid character '_' in key prefix"),
    ("!role=web", 5, "'!' only takes a bare key, found '='"),
    ("!role != web", 6, "'!' only takes a bare key, found '!='"),
    ("!role in (a)", 6, "'!' only takes a bare key, found 'in'"),
    ("!", 1, "expected a key after '!', found end"),
    ("a,!!role", 2, "expected a key before '!!'"),
    ("! ,a", 2, "expected a key after '!', found ','"),
    ("!role web", 6, "unexpected 'web', expected ','"),
    ("role~web", 4, "unknown operator '~'"),
    ("role>3", 4, "unknown operator '>'"),
    ("role >= 3", 5, "unknown operator '>='"),
    ("role=~web", 4, "unknown operator '=~'"),
    ("role===web", 4, "unknown operator '==='"),
    ("role!web", 4, "unknown operator '!'"),
    ("role web", 5, "unknown operator 'web'"),
    ("role In (a)", 5, "unknown operator 'In'"),
    ("role(a)", 4, "expected an operator after key 'role'"),
    ("\u{3000}role~web", 5, "unknown operator '~'"),
    ("zone=ä,role~web", 5, "invalid character 'ä' in value 'ä'"),
];

#[test]
fn errors_point_at_the_right_position() {
    for (input, position, fragment) in ERROR_CASES {
        let err = match Selector::parse(input) {
            Ok(selector) => panic!("{input:?} should fail, parsed as {selector:?}"),
            Err(err) => err,
        };
        assert!(
            err.message.contains(fragment),
            "{input:?}: message {:?} lacks {fragment:?}",
            err.message
        );
        assert_eq!(err.position, *position, "{input:?}:\n{}", err.render());
        assert_eq!(err.input, *input);
        assert!(err.position <= input.chars().count(), "{input:?}");
    }
}

#[test]
fn full_error_messages() {
    let cases = [
        (
            "role~web",
            "unknown operator '~', expected one of '=', '==', '!=', 'in', 'notin'",
        ),
        (
            "role==",
            "expected a value after '==' (use '=' to match an empty value), found end of selector",
        ),
        (
            "!role=web",
            "'!' only takes a bare key, found '=' (use '!=' or 'notin')",
        ),
        (
            "e..io/role",
            "invalid key prefix 'e..io' (expected a lowercase DNS subdomain like 'example.com')",
        ),
        (
            "zone in ()",
            "empty value list after 'in', expected a value",
        ),
        (
            "role=(a)",
            "unexpected '(' after '=' (use 'in (...)' to match a list of values)",
        ),
        (
            "role=we b",
            "unexpected 'b', expected ',' or end of selector",
        ),
        (
            "zone in (a b)",
            "expected ',' or ')' in the value list, found 'b'",
        ),
        ("role=w@b", "invalid character '@' in value 'w@b'"),
        (
            "role_=web",
            "key 'role_' must start and end with a letter or digit",
        ),
    ];
    for (input, message) in cases {
        let err = Selector::parse(input).expect_err(input);
        assert_eq!(err.message, message, "{input:?}");
    }
}

#[test]
fn error_messages_are_lowercase_without_final_period() {
    for (input, _, _) in ERROR_CASES {
        let Err(err) = Selector::parse(input) else {
            panic!("{input:?} should fail");
        };
        let first = err.message.chars().next().unwrap_or(' ');
        assert!(!first.is_uppercase(), "{:?}", err.message);
        assert!(!err.message.ends_with('.'), "{:?}", err.message);
    }
}

#[test]
fn long_keys_and_values() {
    let name63 = format!("a{}b", "x".repeat(61));
    let name64 = format!("a{}b", "x".repeat(62));
    assert!(parse(&format!("{name63}={name63}")).matches(&labels(&[(&name63, &name63)])));

    let err = Selector::parse(&format!("{name64}=v")).expect_err("key too long");
    assert_eq!(err.position, 63);
    assert_eq!(err.message, "key is too long (64 characters, at most 63)");

    let err = Selector::parse(&format!("k={name64}")).expect_err("value too long");
    assert_eq!(err.position, 2 + 63);
    assert_eq!(err.message, "value is too long (64 characters, at most 63)");

    let err = Selector::parse(&format!("k in (a,{name64})")).expect_err("list value too long");
    assert_eq!(err.position, 8 + 63);

    let err = Selector::parse(&format!("example.com/{name64}")).expect_err("name too long");
    assert_eq!(err.position, 12 + 63);

    let prefix253 = format!("{}.{}", "a".repeat(126), "b".repeat(126));
    assert_eq!(prefix253.len(), 253);
    parse(&format!("{prefix253}/k=v"));
    let err = Selector::parse(&format!("{prefix253}c/k=v")).expect_err("prefix too long");
    assert_eq!(err.position, 253);
    assert_eq!(
        err.message,
        "key prefix is too long (254 characters, at most 253)"
    );
}

#[test]
fn error_display_and_render() {
    let input = "role=web,zone in (a,b";
    let err = Selector::parse(input).expect_err("unclosed list");
    assert_eq!(err.position, 21);
    assert_eq!(
        err.to_string(),
        "expected ')' to close the value list at position 21"
    );
    let expected = [
        "invalid selector: expected ')' to close the value list at position 21",
        "  role=web,zone in (a,b",
        "                       ^",
    ]
    .join("\n");
    assert_eq!(err.render(), expected);
}

#[test]
fn render_keeps_the_caret_aligned_under_tabs_and_unicode() {
    let err = Selector::parse("\t\u{3000}zone~a").expect_err("unknown operator");
    assert_eq!(err.position, 6);
    let rendered = err.render();
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(lines[1], "    zone~a");
    assert_eq!(lines[2], "        ^");
}

#[test]
fn deserializes_from_a_string() {
    use serde::Deserialize;
    use serde::de::value::{Error, StrDeserializer};

    let de = StrDeserializer::<Error>::new("role=web, zone in (a)");
    let selector = Selector::deserialize(de).expect("valid selector");
    assert_eq!(selector, parse("role=web,zone in (a)"));

    let de = StrDeserializer::<Error>::new("role~web");
    let err = Selector::deserialize(de).expect_err("invalid selector");
    assert!(err.to_string().contains("unknown operator '~'"), "{err}");
}

#[test]
fn the_id_key_matches_the_host_id_and_host_lists_narrow_a_selector() {
    let labels: BTreeMap<String, String> = [("role".to_string(), "web".to_string())].into();
    assert!(parse("id=web-1").matches_host("web-1", &labels));
    assert!(!parse("id=web-1").matches_host("web-2", &labels));
    assert!(parse("role=web,id in (web-1,web-3)").matches_host("web-3", &labels));
    assert!(!parse("role=db,id in (web-1,web-3)").matches_host("web-3", &labels));
    // Plain label matching knows nothing of ids.
    assert!(!parse("id=web-1").matches(&labels));

    let hosts = vec!["web-1".to_string(), "web-2".to_string()];
    assert_eq!(with_hosts("", &hosts).unwrap(), "id in (web-1,web-2)");
    assert_eq!(
        with_hosts("role=web", &hosts).unwrap(),
        "role=web,id in (web-1,web-2)"
    );
    assert_eq!(with_hosts("role=web", &[]).unwrap(), "role=web");
    assert!(parse(&with_hosts("role=web", &hosts).unwrap()).matches_host("web-2", &labels));
    let bad = with_hosts("", &["Web 1".to_string()]).unwrap_err();
    assert!(bad.contains("invalid host id"), "{bad}");
}
