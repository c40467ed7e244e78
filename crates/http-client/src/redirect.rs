//! Following redirects: which hop comes next, with which method, and which headers
//! must not travel to another origin.

use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use url::Url;

use crate::error::{Error, Kind};
use crate::headers::is_credential_header;

/// The next request of a redirect chain.
#[derive(Debug)]
pub(crate) struct Hop {
    pub(crate) method: Method,
    pub(crate) url: Url,
    /// Whether the body is sent again (307 and 308 keep method and body).
    pub(crate) keep_body: bool,
}

/// The hop a redirect response asks for, or `None` when the status is not a redirect
/// this client follows (e.g. 300, 304, or 301 without `Location`... which is an error).
pub(crate) fn next_hop(
    status: StatusCode,
    method: &Method,
    current: &Url,
    headers: &HeaderMap,
) -> Result<Option<Hop>, Error> {
    let (method, keep_body) = match status {
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => {
            // What browsers and reqwest do: a POST becomes a GET, other methods stay.
            if *method == Method::POST {
                (Method::GET, false)
            } else {
                (method.clone(), true)
            }
        }
        StatusCode::SEE_OTHER => {
            if *method == Method::HEAD {
                (Method::HEAD, false)
            } else {
                (Method::GET, false)
            }
        }
        StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => (method.clone(), true),
        _ => return Ok(None),
    };
    let location = headers
        .get(LOCATION)
        .ok_or_else(|| Error::new(Kind::Redirect).with_url(current))?;
    let location = location
        .to_str()
        .map_err(|e| Error::new(Kind::Redirect).with_url(current).with_source(e))?;
    let url = current
        .join(location)
        .map_err(|e| Error::new(Kind::Redirect).with_url(current).with_source(e))?;
    Ok(Some(Hop {
        method,
        url,
        keep_body,
    }))
}

/// Adjusts the headers for the next hop: credentials stay with their origin, and a
/// request that lost its body loses the headers that described it.
///
/// Credentials are the headers [`is_credential_header`] names (`Authorization`,
/// `Cookie`, `X-API-Key`...) and any other whose value is marked sensitive (the caller
/// marks what it wants kept to the origin).
pub(crate) fn prepare_headers(headers: &mut HeaderMap, from: &Url, to: &Url, keep_body: bool) {
    let credential =
        |name: &HeaderName, value: &HeaderValue| value.is_sensitive() || is_credential_header(name);
    if !same_origin(from, to) && headers.iter().any(|(n, v)| credential(n, v)) {
        // Values one by one: a name may hold a sensitive value and a plain one.
        let mut last = None;
        for (name, value) in std::mem::take(headers) {
            // `into_iter` gives the name with the first value of each name only.
            if let Some(name) = name {
                last = Some(name);
            }
            if let Some(name) = &last
                && !credential(name, &value)
            {
                headers.append(name.clone(), value);
            }
        }
    }
    if !keep_body {
        for name in [
            CONTENT_TYPE,
            CONTENT_LENGTH,
            CONTENT_ENCODING,
            TRANSFER_ENCODING,
        ] {
            headers.remove(name);
        }
    }
}

/// Scheme, host and port (with the scheme's default filled in) all equal.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn location(l: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(LOCATION, HeaderValue::from_str(l).unwrap());
        h
    }

    #[test]
    fn see_other_turns_post_into_get() {
        let hop = next_hop(
            StatusCode::SEE_OTHER,
            &Method::POST,
            &url("http://a/x"),
            &location("/y"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(hop.method, Method::GET);
        assert!(!hop.keep_body);
        assert_eq!(hop.url.as_str(), "http://a/y");
    }

    #[test]
    fn temporary_redirect_keeps_method_and_body() {
        let hop = next_hop(
            StatusCode::TEMPORARY_REDIRECT,
            &Method::PUT,
            &url("http://a/x"),
            &location("http://b/z"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(hop.method, Method::PUT);
        assert!(hop.keep_body);
    }

    #[test]
    fn missing_location_is_an_error() {
        let err = next_hop(
            StatusCode::FOUND,
            &Method::GET,
            &url("http://a/"),
            &HeaderMap::new(),
        )
        .unwrap_err();
        assert!(err.is_redirect());
    }

    #[test]
    fn not_modified_is_not_followed() {
        assert!(
            next_hop(
                StatusCode::NOT_MODIFIED,
                &Method::GET,
                &url("http://a/"),
                &location("/")
            )
            .unwrap()
            .is_none()
        );
    }

    #[test]
    fn credentials_dropped_across_origins_only() {
        use http::header::{AUTHORIZATION, COOKIE};
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        h.insert(COOKIE, HeaderValue::from_static("a=b"));
        prepare_headers(&mut h, &url("http://a/"), &url("http://a:80/other"), true);
        assert!(h.contains_key(AUTHORIZATION));
        prepare_headers(&mut h, &url("http://a/"), &url("https://a/"), true);
        assert!(!h.contains_key(AUTHORIZATION));
        assert!(!h.contains_key(COOKIE));
    }
}
