use super::*;

#[test]
fn id_patterns_are_star_globs() {
    for (pattern, id, ok) in [
        ("web-*", "web-7", true),
        ("web-*", "web-", true),
        ("web-*", "db-1", false),
        ("*-a", "web-a", true),
        ("web-*-a", "web-7-a", true),
        ("web-*-a", "web-7-b", false),
        ("web-1", "web-1", true),
        ("web-1", "web-12", false),
        ("*", "anything", true),
        ("a*a", "a", false),
    ] {
        assert_eq!(glob_match(pattern, id), ok, "{pattern} ~ {id}");
    }
}
