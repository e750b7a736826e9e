//! The spellings of a configuration's keys: `pool-size`, `pool_size` and `poolSize` are one key,
//! and a key that is none of the known ones (the parser's lists) is answered with the closest.

/// The canonical spelling of a key: `pool-size`, `poolSize` and `pool_size` are all `pool_size`.
pub(crate) fn canonical(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        match c {
            '-' => out.push('_'),
            c if c.is_ascii_uppercase() => {
                out.push('_');
                out.push(c.to_ascii_lowercase());
            }
            c => out.push(c),
        }
    }
    out
}

/// Spells a canonical key the way the user spells keys: with hyphens if `like` has one, in
/// camelCase for `chat_mapping` when `like` is camelCase.
pub(crate) fn respell(canon: &str, like: &str) -> String {
    if like.contains('-') {
        canon.replace('_', "-")
    } else if like.chars().any(|c| c.is_ascii_uppercase()) {
        let mut out = String::new();
        let mut upper = false;
        for c in canon.chars() {
            match (c, upper) {
                ('_', _) => upper = true,
                (c, true) => {
                    out.push(c.to_ascii_uppercase());
                    upper = false;
                }
                (c, false) => out.push(c),
            }
        }
        out
    } else {
        canon.to_owned()
    }
}

/// The known key closest to `key`, if one is close enough to be a typo.
pub(crate) fn closest(key: &str, known: &[&'static str]) -> Option<&'static str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
