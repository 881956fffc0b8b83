//! Webhook authentication: whether a delivery to `/hooks/<forge>` comes from someone who
//! knows the shared secret. GitHub and Gitea/Forgejo sign the body (HMAC-SHA256), GitLab
//! and the generic endpoint send the token itself; every comparison takes the same time
//! whatever the guess. A delivery that passes is only a hint to fetch the configured
//! branch: nothing in its body is ever read. Pure: headers and body in, verdict out.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The largest body accepted; deliveries are refused beyond it, unread.
pub const MAX_BODY: usize = 1024 * 1024;

/// The endpoints, one per way of proving the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    /// `X-Hub-Signature-256: sha256=<hex HMAC of the body>`.
    Github,
    /// `X-Forgejo-Signature` or `X-Gitea-Signature: <hex HMAC of the body>` (or GitHub's
    /// header, which both also send).
    Gitea,
    /// `X-Gitlab-Token: <secret>`.
    Gitlab,
    /// `Authorization: Bearer <secret>`.
    Generic,
}

impl Forge {
    pub const ALL: [Forge; 4] = [Forge::Github, Forge::Gitea, Forge::Gitlab, Forge::Generic];

    /// The last part of the endpoint's path, and berth.yaml's key for its secret.
    pub fn name(self) -> &'static str {
        match self {
            Forge::Github => "github",
            Forge::Gitea => "gitea",
            Forge::Gitlab => "gitlab",
            Forge::Generic => "generic",
        }
    }
}

/// Why a delivery was refused (answered 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The header that proves the secret is absent.
    Missing(&'static str),
    /// It is present but wrong (or malformed).
    Wrong(&'static str),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Missing(h) => write!(f, "no {h} header"),
            Refused::Wrong(h) => write!(f, "{h} does not match the configured secret"),
        }
    }
}

/// Checks one delivery: `header` looks a header up by name (case-insensitively).
pub fn verify<'a>(
    forge: Forge,
    header: impl Fn(&str) -> Option<&'a str>,
    body: &[u8],
    secret: &[u8],
) -> Result<(), Refused> {
    match forge {
        Forge::Github => signed(&header, "X-Hub-Signature-256", Some("sha256="), body, secret),
        Forge::Gitea => {
            for name in ["X-Forgejo-Signature", "X-Gitea-Signature"] {
                if header(name).is_some() {
                    return signed(&header, name, None, body, secret);
                }
            }
            signed(&header, "X-Hub-Signature-256", Some("sha256="), body, secret)
                .map_err(|_| Refused::Missing("X-Gitea-Signature"))
        }
        Forge::Gitlab => {
            let name = "X-Gitlab-Token";
            let token = header(name).ok_or(Refused::Missing(name))?;
            same(token.as_bytes(), secret)
                .then_some(())
                .ok_or(Refused::Wrong(name))
        }
        Forge::Generic => {
            let name = "Authorization";
            let value = header(name).ok_or(Refused::Missing(name))?;
            let token = value.strip_prefix("Bearer ").ok_or(Refused::Wrong(name))?.trim();
            same(token.as_bytes(), secret)
                .then_some(())
                .ok_or(Refused::Wrong(name))
        }
    }
}

/// An HMAC-SHA256 of the body, hex, in header `name` (after `prefix`).
fn signed<'a>(
    header: &impl Fn(&str) -> Option<&'a str>,
    name: &'static str,
    prefix: Option<&str>,
    body: &[u8],
    secret: &[u8],
) -> Result<(), Refused> {
    let value = header(name).ok_or(Refused::Missing(name))?.trim();
    let hex_digest = match prefix {
        Some(p) => value.strip_prefix(p).ok_or(Refused::Wrong(name))?,
        None => value,
    };
    let signature = hex::decode(hex_digest).map_err(|_| Refused::Wrong(name))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| Refused::Wrong(name))?;
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&signature).map_err(|_| Refused::Wrong(name))
}

/// Equal, in time that does not depend on where the first difference is.
fn same(given: &[u8], secret: &[u8]) -> bool {
    bool::from(given.ct_eq(secret))
}

/// The value of GitHub's signature header for `body` under `secret`: for tests and for
/// tools that send deliveries.
pub fn github_signature(body: &[u8], secret: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";

    fn check(forge: Forge, headers: &[(&str, &str)]) -> Result<(), Refused> {
        verify(
            forge,
            |name| {
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| *v)
            },
            BODY,
            SECRET,
        )
    }

    #[test]
    fn github_signature_matches_githubs_documented_example() {
        // docs.github.com, "Validating webhook deliveries": this secret and payload.
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(github_signature(BODY, SECRET), expected);
        assert_eq!(check(Forge::Github, &[("x-hub-signature-256", expected)]), Ok(()));
    }

    #[test]
    fn github_refuses_missing_wrong_and_malformed_signatures() {
        let good = github_signature(BODY, SECRET);
        let other = github_signature(b"Hello, World?", SECRET);
        let name = "X-Hub-Signature-256";
        assert_eq!(check(Forge::Github, &[]), Err(Refused::Missing(name)));
        assert_eq!(check(Forge::Github, &[(name, &other)]), Err(Refused::Wrong(name)));
        assert_eq!(
            check(Forge::Github, &[(name, &good[7..])]),
            Err(Refused::Wrong(name))
        );
        assert_eq!(
            check(Forge::Github, &[(name, "sha256=zz")]),
            Err(Refused::Wrong(name))
        );
        assert_eq!(
            check(Forge::Github, &[(name, &good[..20])]),
            Err(Refused::Wrong(name))
        );
    }

    #[test]
    fn gitea_and_forgejo_sign_without_a_prefix() {
        let hex = &github_signature(BODY, SECRET)[7..];
        assert_eq!(check(Forge::Gitea, &[("X-Gitea-Signature", hex)]), Ok(()));
        assert_eq!(check(Forge::Gitea, &[("X-Forgejo-Signature", hex)]), Ok(()));
        let good = github_signature(BODY, SECRET);
        assert_eq!(check(Forge::Gitea, &[("X-Hub-Signature-256", &good)]), Ok(()));
        assert_eq!(
            check(Forge::Gitea, &[("X-Gitea-Signature", "00")]),
            Err(Refused::Wrong("X-Gitea-Signature"))
        );
        assert_eq!(
            check(Forge::Gitea, &[]),
            Err(Refused::Missing("X-Gitea-Signature"))
        );
    }

    #[test]
    fn token_endpoints_compare_the_whole_token() {
        let secret = std::str::from_utf8(SECRET).unwrap();
        assert_eq!(check(Forge::Gitlab, &[("X-Gitlab-Token", secret)]), Ok(()));
        assert_eq!(
            check(Forge::Gitlab, &[("X-Gitlab-Token", &secret[..5])]),
            Err(Refused::Wrong("X-Gitlab-Token"))
        );
        assert_eq!(check(Forge::Gitlab, &[]), Err(Refused::Missing("X-Gitlab-Token")));
        let bearer = format!("Bearer {secret}");
        assert_eq!(check(Forge::Generic, &[("authorization", &bearer)]), Ok(()));
        assert_eq!(
            check(Forge::Generic, &[("Authorization", secret)]),
            Err(Refused::Wrong("Authorization"))
        );
        assert_eq!(
            check(Forge::Generic, &[("Authorization", "Bearer nope")]),
            Err(Refused::Wrong("Authorization"))
        );
    }
}
